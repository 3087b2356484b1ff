# Static, non-root image of the service. Build: docker build -t consentry .
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/consentry ./cmd/consentry \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/consentry /usr/local/bin/consentry
COPY --from=build --chown=65532:65532 /out/data /var/lib/consentry
COPY sites.example.yaml /etc/consentry/sites.yaml
ENV CONSENTRY_LISTEN=:8080 \
    CONSENTRY_SITES=/etc/consentry/sites.yaml \
    CONSENTRY_DATA_DIR=/var/lib/consentry
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/consentry", "serve"]
