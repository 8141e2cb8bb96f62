/* SPDX-License-Identifier: MIT */
/* RFC 8463 Appendix A, the test vectors of the DKIM suites (check_dkim,
 * check_dkim_key): its keys (A.1) and the b= and bh= values of its signed
 * message (A.3).  Both signature schemes are deterministic, so a signer
 * must reproduce these values exactly. */
#ifndef SMTPC_TESTS_RFC8463_H
#define SMTPC_TESTS_RFC8463_H

/* A.1: the RSA key (1024 bits: refused for signing by RFC 8301's rule, so
 * loaded through the internal loader with a 1024-bit minimum). */
#define RFC8463_RSA_PEM                                                        \
  "-----BEGIN RSA PRIVATE KEY-----\n"                                          \
  "MIICXQIBAAKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQi\n"         \
  "Y/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqM\n"         \
  "KrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB\n"         \
  "AoGAH0cxOhFZDgzXWhDhnAJDw5s4roOXN4OhjiXa8W7Y3rhX3FJqmJSPuC8N9vQm\n"         \
  "6SVbaLAE4SG5mLMueHlh4KXffEpuLEiNp9Ss3O4YfLiQpbRqE7Tm5SxKjvvQoZZe\n"         \
  "zHorimOaChRL2it47iuWxzxSiRMv4c+j70GiWdxXnxe4UoECQQDzJB/0U58W7RZy\n"         \
  "6enGVj2kWF732CoWFZWzi1FicudrBFoy63QwcowpoCazKtvZGMNlPWnC7x/6o8Gc\n"         \
  "uSe0ga2xAkEA8C7PipPm1/1fTRQvj1o/dDmZp243044ZNyxjg+/OPN0oWCbXIGxy\n"         \
  "WvmZbXriOWoSALJTjExEgraHEgnXssuk7QJBALl5ICsYMu6hMxO73gnfNayNgPxd\n"         \
  "WFV6Z7ULnKyV7HSVYF0hgYOHjeYe9gaMtiJYoo0zGN+L3AAtNP9huqkWlzECQE1a\n"         \
  "licIeVlo1e+qJ6Mgqr0Q7Aa7falZ448ccbSFYEPD6oFxiOl9Y9se9iYHZKKfIcst\n"         \
  "o7DUw1/hz2Ck4N5JrgUCQQCyKveNvjzkkd8HjYs0SwM0fPjK16//5qDZ2UiDGnOe\n"         \
  "uEzxBDAr518Z8VFbR41in3W4Y3yCDgQlLlcETrS+zYcL\n"                             \
  "-----END RSA PRIVATE KEY-----\n"

/* A.1: the Ed25519 key's seed, base64. */
#define RFC8463_ED_SEED "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A="

/* A.3: the body hash and the two signatures' b= values, unfolded. */
#define RFC8463_BH "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8="
#define RFC8463_ED_B                                                           \
  "/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11BusFa3bT3FY5OsU7ZbnK"  \
  "ELq+eXdp1Q1Dw=="
#define RFC8463_RSA_B                                                          \
  "F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3DhCVlUrSjV4BwcVcOF" \
  "6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2JzdA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP"  \
  "7OdEFE4LjFYNcUxZQ4FADY+8="

#endif /* SMTPC_TESTS_RFC8463_H */
