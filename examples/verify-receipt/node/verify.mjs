// How a Node backend checks a Consentry receipt against the public JWKS, with jose:
//   node verify.mjs JWKS_URL ISSUER SITE RECEIPT   (prints the claims, exits 1 if refused)
import { createRemoteJWKSet, jwtVerify } from "jose";

const [jwksURL, issuer, site, receipt] = process.argv.slice(2);
const jwks = createRemoteJWKSet(new URL(jwksURL));
try {
  const { payload } = await jwtVerify(receipt, jwks, { issuer, audience: site, algorithms: ["EdDSA"], requiredClaims: ["exp"] });
  // payload.sub: consent id; payload.pv: policy version; payload.g: granted categories,
  // bit i = the i-th category of the site in sites.yaml.
  console.log(JSON.stringify(payload));
} catch (e) {
  console.error(`receipt refused: ${e.code ?? e.message}`);
  process.exit(1);
}
