//! Checking OIDC identity tokens against an issuer's discovery document and JWKS.
