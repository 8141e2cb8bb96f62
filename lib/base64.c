/* SPDX-License-Identifier: MIT */
/* Base64 (RFC 4648 section 4), strict decoding as RFC 4954 requires for
 * AUTH challenges: only the alphabet, correct padding, no whitespace, and
 * no stray bits in the last quantum. */
#include "smtpc_int.h"

const char smtpc__b64_alphabet[65] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t smtpc__b64_encoded_len(size_t n) {
  if (n > (SIZE_MAX - 1) / 4 * 3 - 2)
    return 0;
  return (n + 2) / 3 * 4;
}

size_t smtpc__b64_encode(const unsigned char *in, size_t n, char *out) {
  size_t i, o = 0;
  for (i = 0; i + 2 < n; i += 3) {
    unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
    out[o++] = smtpc__b64_alphabet[v >> 18 & 63];
    out[o++] = smtpc__b64_alphabet[v >> 12 & 63];
    out[o++] = smtpc__b64_alphabet[v >> 6 & 63];
    out[o++] = smtpc__b64_alphabet[v & 63];
  }
  if (i < n) {
    unsigned v = (unsigned)in[i] << 16;
    if (i + 1 < n)
      v |= (unsigned)in[i + 1] << 8;
    out[o++] = smtpc__b64_alphabet[v >> 18 & 63];
    out[o++] = smtpc__b64_alphabet[v >> 12 & 63];
    out[o++] = i + 1 < n ? smtpc__b64_alphabet[v >> 6 & 63] : '=';
    out[o++] = '=';
  }
  out[o] = '\0';
  return o;
}

static int b64_value(unsigned char c) {
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '+')
    return 62;
  if (c == '/')
    return 63;
  return -1;
}

int smtpc__b64_decode(const char *in, size_t n, unsigned char *out, size_t cap,
                      size_t *outlen) {
  size_t i, o = 0;
  *outlen = 0;
  if (n % 4 != 0)
    return SMTPC_ERR_PROTOCOL;
  for (i = 0; i < n; i += 4) {
    int v[4], k, pad = 0;
    unsigned w;
    for (k = 0; k < 4; k++) {
      unsigned char c = (unsigned char)in[i + (size_t)k];
      if (c == '=' && i + 4 == n && k >= 2) {
        v[k] = 0;
        pad++;
        continue;
      }
      if (pad > 0) /* data after padding */
        return SMTPC_ERR_PROTOCOL;
      v[k] = b64_value(c);
      if (v[k] < 0)
        return SMTPC_ERR_PROTOCOL;
    }
    if (pad == 1 && in[i + 3] != '=')
      return SMTPC_ERR_PROTOCOL;
    w = (unsigned)v[0] << 18 | (unsigned)v[1] << 12 | (unsigned)v[2] << 6 |
        (unsigned)v[3];
    /* canonical encoding only: unused bits must be zero */
    if ((pad == 1 && (w & 0xff) != 0) || (pad == 2 && (w & 0xffff) != 0))
      return SMTPC_ERR_PROTOCOL;
    if (cap - o < (size_t)(3 - pad))
      return SMTPC_ERR_REPLY_TOO_LARGE;
    out[o++] = (unsigned char)(w >> 16);
    if (pad < 2)
      out[o++] = (unsigned char)(w >> 8 & 0xff);
    if (pad < 1)
      out[o++] = (unsigned char)(w & 0xff);
  }
  *outlen = o;
  return SMTPC_OK;
}
