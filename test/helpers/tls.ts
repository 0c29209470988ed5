// A throwaway self-signed certificate for 127.0.0.1 and localhost (valid until 2126), made with
// `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 36500`. Test use only:
// it lets the suites run an HTTPS server with no network and no system trust store changes.

export const TEST_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQggZ+G3KjCN2M21rhZ
T+np2vjLXVn4/7FViWlq4M8XQ6ChRANCAATKGYDu/A60fY4F3q5knBlDG0UIl/5h
Qr0e7YZlzIdGRbD4YrIUdY1kBRi4P4Jw9I7x+wDns0RtISH0O3RHeCzS
-----END PRIVATE KEY-----
`;

export const TEST_CERT = `-----BEGIN CERTIFICATE-----
MIIBmjCCAUGgAwIBAgIUK4zuJvBDV2GblvXO0yLzcc2lK4wwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJMTI3LjAuMC4xMCAXDTI2MTEyMjAyNTgxOFoYDzIxMjYxMDI5
MDI1ODE4WjAUMRIwEAYDVQQDDAkxMjcuMC4wLjEwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAATKGYDu/A60fY4F3q5knBlDG0UIl/5hQr0e7YZlzIdGRbD4YrIUdY1k
BRi4P4Jw9I7x+wDns0RtISH0O3RHeCzSo28wbTAdBgNVHQ4EFgQUiys7M6tbmO0L
RzTW+sb1uY9RAogwHwYDVR0jBBgwFoAUiys7M6tbmO0LRzTW+sb1uY9RAogwDwYD
VR0TAQH/BAUwAwEB/zAaBgNVHREEEzARhwR/AAABgglsb2NhbGhvc3QwCgYIKoZI
zj0EAwIDRwAwRAIgP50mCQW9pkg9nMywBeKivInlQrs0PwcZ6aujl4A1lXECIEpB
P3wMeQVWMFHAFrg+b++q3nX9GA+tzZlj2qMYfks3
-----END CERTIFICATE-----
`;
