#!/usr/bin/env bash
# Banner benchmark (127.0.0.1 only, bounded): starts ClickHouse and the service with the
# example sites (the shop: four categories, three vendors), then bench/banner loads, over
# https, a page with our banner (from its own host, and from the page's origin), the same
# page with vanilla-cookieconsent 3.1.0 from npm configured alike, and with a one-line
# banner script (the floor), in alternating cold loads in one headless Chromium, and prints
# size, script time, time to visible, DOM nodes and CLS, the ratios, and the budgets.
# See bench/README.md.
# Usage: bench/banner.sh [cold loads of each page, default 15] [bench/banner flags…]
# VARIANT=path/to/consentry also measures that build's banner in the same run (build it from
# changed banner sources to compare a change without the noise between runs).
set -euo pipefail
LOADS="${1:-15}"
PORT_FULL=18485
PORT_VARIANT=18487
PAGE=127.0.0.1:18486
source "$(dirname "$0")/lib.sh"
apt_install chromium chromium
[ -d scripts/browser/node_modules/vanilla-cookieconsent ] || npm --prefix scripts/browser install --no-audit --no-fund >/dev/null
# The test pages' origin stands in for the demo page's.
sed "s#http://localhost:8081#http://$PAGE#" sites.example.yaml > var/bench/banner-sites.yaml
start_consentry "$PORT_FULL" var/bench/banner-sites.yaml
variant=()
if [ -n "${VARIANT:-}" ]; then
  CONSENTRY_BIN="$VARIANT" start_consentry "$PORT_VARIANT" var/bench/banner-sites.yaml
  variant=(--variant "http://127.0.0.1:$PORT_VARIANT")
fi
go run ./bench/banner --consent "http://127.0.0.1:$PORT_FULL" --listen "$PAGE" --loads "$LOADS" "${variant[@]}" "${@:2}"
