/* SPDX-License-Identifier: MIT */
/* The header writer of the MIME builder (mime.c): fields folded before
 * white space (RFC 5322 2.2.3), RFC 2047 encoded-words in unstructured
 * text and display names, RFC 2231 file-name parameters, and the Date
 * field (RFC 5322 3.3).  Everything goes into the message's literal
 * buffer through smtpc__hw_put(); the first error sticks in h->rv. */
#include "mime_int.h"

#include "ascii.h"

#include <string.h>

#define FOLD_AT 78    /* fold header lines beyond this column */
#define QUOTED_MAX 60 /* longer ASCII names and file names get encoded */

static size_t fmt_uint(char *out, uint64_t v, size_t width) {
  char tmp[24];
  size_t n = 0, i;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v > 0 && n < sizeof(tmp));
  while (n < width && n < sizeof(tmp))
    tmp[n++] = '0';
  for (i = 0; i < n; i++)
    out[i] = tmp[n - 1 - i];
  return n;
}

/* ---- dates (RFC 5322 3.3) ------------------------------------------------ */

static int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static void civil_from_days(int64_t z, int64_t *y, int *mo, int *d) {
  int64_t era, doe, yoe, doy, mp;
  z += 719468;
  era = floor_div(z, 146097);
  doe = z - era * 146097;
  yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  mp = (5 * doy + 2) / 153;
  *d = (int)(doy - (153 * mp + 2) / 5 + 1);
  *mo = (int)(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*mo <= 2);
}

/* Local seconds of (t, off), or 0 when out of the years 1900..9999. */
int smtpc__mime_local_time(int64_t t, int off, int64_t *lt) {
  int64_t lo = smtpc__mime_days_from_civil(1900, 1, 1) * 86400;
  int64_t hi = smtpc__mime_days_from_civil(10000, 1, 1) * 86400;
  if (off < -1439 || off > 1439 || t < lo - 86400 || t > hi + 86400)
    return 0;
  *lt = t + (int64_t)off * 60;
  return *lt >= lo && *lt < hi;
}

/* "Thu, 01 Jan 1970 00:00:00 +0000"; out needs 32 bytes. */
static size_t fmt_date(char *out, int64_t t, int off) {
  static const char wdays[] = "SunMonTueWedThuFriSat";
  static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
  int64_t lt = 0, days, secs, y;
  int mo, d, aoff = off < 0 ? -off : off;
  size_t n = 0;
  (void)smtpc__mime_local_time(t, off, &lt);
  days = floor_div(lt, 86400);
  secs = lt - days * 86400;
  civil_from_days(days, &y, &mo, &d);
  memcpy(out, wdays + ((days % 7 + 11) % 7) * 3, 3);
  n = 3;
  out[n++] = ',';
  out[n++] = ' ';
  n += fmt_uint(out + n, (uint64_t)d, 2);
  out[n++] = ' ';
  memcpy(out + n, months + (mo - 1) * 3, 3);
  n += 3;
  out[n++] = ' ';
  n += fmt_uint(out + n, (uint64_t)y, 4);
  out[n++] = ' ';
  n += fmt_uint(out + n, (uint64_t)(secs / 3600), 2);
  out[n++] = ':';
  n += fmt_uint(out + n, (uint64_t)(secs / 60 % 60), 2);
  out[n++] = ':';
  n += fmt_uint(out + n, (uint64_t)(secs % 60), 2);
  out[n++] = ' ';
  out[n++] = off < 0 ? '-' : '+';
  n += fmt_uint(out + n, (uint64_t)(aoff / 60 * 100 + aoff % 60), 4);
  out[n] = '\0';
  return n;
}

/* ---- header writer ------------------------------------------------------- */

void smtpc__hw_put(smtpc__hw *h, const void *p, size_t n) {
  if (h->rv == SMTPC_OK && n > 0)
    h->rv = smtpc__buf_append(&h->m->lit, &h->m->mem, p, n);
  h->col += n;
}

void smtpc__hw_str(smtpc__hw *h, const char *s) {
  smtpc__hw_put(h, s, strlen(s));
}

void smtpc__hw_field(smtpc__hw *h, const char *name) {
  h->col = 0;
  h->tok = 0;
  smtpc__hw_str(h, name);
  smtpc__hw_put(h, ":", 1);
}

void smtpc__hw_end(smtpc__hw *h) {
  smtpc__hw_put(h, "\r\n", 2);
  h->col = 0;
}

/* White space sep, then tok and suf as one unbreakable token.  Folds (CRLF
 * before sep) when the token would pass the fold column and a token already
 * stands on the line; never makes a line of white space only. */
void smtpc__hw_token(smtpc__hw *h, const char *sep, size_t sepn,
                     const void *tok, size_t tokn, const char *suf) {
  size_t sufn = suf != NULL ? strlen(suf) : 0;
  if (h->tok && sepn > 0 && tokn + sufn > 0 &&
      h->col + sepn + tokn + sufn > FOLD_AT) {
    smtpc__hw_put(h, "\r\n", 2);
    h->col = 0;
  }
  smtpc__hw_put(h, sep, sepn);
  smtpc__hw_put(h, tok, tokn);
  smtpc__hw_put(h, suf, sufn);
  if (tokn + sufn > 0)
    h->tok = 1;
}

/* Characters a Q encoded-word may carry literally anywhere, including in
 * a phrase (RFC 2047 5(3)). */
static int q_safe(unsigned char c) {
  return smtpc__isalnum(c) || c == '!' || c == '*' || c == '+' || c == '-' ||
         c == '/';
}

/* c as esc ('=' or '%') and two upper-case hex digits.  Returns 3. */
static size_t put_hex(char *out, char esc, unsigned char c) {
  out[0] = esc;
  out[1] = smtpc__hexdigit(c >> 4);
  out[2] = smtpc__hexdigit(c);
  return 3;
}

/* s[0..n) as an RFC 5322 quoted-string ('"' and '\' escaped) at out.
 * Returns its length: n + 2 + the escapes. */
static size_t put_quoted(char *out, const unsigned char *s, size_t n) {
  size_t i, k = 0;
  out[k++] = '"';
  for (i = 0; i < n; i++) {
    if (s[i] == '"' || s[i] == '\\')
      out[k++] = '\\';
    out[k++] = (char)s[i];
  }
  out[k++] = '"';
  return k;
}

/* s[0..n) (valid UTF-8) as RFC 2047 encoded-words of at most 75
 * characters, B or Q whichever is shorter overall, never splitting a
 * character; the first word after sep, the others after a space; suf right
 * after the last. */
static void hw_encoded(smtpc__hw *h, const char *sep, size_t sepn,
                       const unsigned char *s, size_t n, const char *suf) {
  size_t qlen = 0, blen, i = 0, sufn = suf != NULL ? strlen(suf) : 0;
  int useq, first = 1, whole;
  for (i = 0; i < n; i++)
    qlen += (q_safe(s[i]) || s[i] == ' ') ? 1 : 3;
  blen = (n + 2) / 3 * 4;
  useq = qlen <= blen;
  /* text that fits one word stays one word (folded to the next line if
   * need be): fewer adjacent encoded-words for decoders to get wrong */
  whole = 12 + (useq ? qlen : blen) + sufn <= 75;
  i = 0;
  while (i < n) {
    char w[96];
    size_t wl = 10, start = i, limit = 75, maxb, used;
    size_t wsn = first ? sepn : 1;
    /* fill the current line when a useful word fits there, else the word
     * goes (whole) to a continuation line */
    used = h->col + wsn + sufn;
    if (!whole && used + 24 <= FOLD_AT && FOLD_AT - used < limit)
      limit = FOLD_AT - used;
    maxb = (limit - 12) / 4 * 3;
    memcpy(w, useq ? "=?UTF-8?Q?" : "=?UTF-8?B?", 10);
    while (i < n) {
      size_t cl = smtpc__mime_utf8_len(s + i, n - i), cost = 0, k;
      if (cl == 0)
        cl = 1; /* not reached: input is validated */
      if (useq) {
        for (k = 0; k < cl; k++)
          cost += (q_safe(s[i + k]) || s[i + k] == ' ') ? 1 : 3;
        if (wl + cost + 2 > limit && i > start)
          break;
        for (k = 0; k < cl; k++) {
          unsigned char c = s[i + k];
          if (q_safe(c)) {
            w[wl++] = (char)c;
          } else if (c == ' ') {
            w[wl++] = '_';
          } else {
            wl += put_hex(w + wl, '=', c);
          }
        }
      } else if (i + cl - start > maxb && i > start) {
        break;
      }
      i += cl;
    }
    if (!useq)
      wl += smtpc__b64_encode(s + start, i - start, w + wl);
    w[wl++] = '?';
    w[wl++] = '=';
    smtpc__hw_token(h, first ? sep : " ", first ? sepn : 1, w, wl,
                    i == n ? suf : NULL);
    first = 0;
  }
}

enum { W_RAW, W_TEXT, W_PHRASE };

/* A token that must be encoded: 8-bit, "=?" (a decoder could take it for
 * an encoded-word), too long to fold, or (in a phrase) not an atom. */
static int needs_ew(const unsigned char *t, size_t n, int mode) {
  size_t i;
  if (mode == W_RAW)
    return 0;
  if (n > FOLD_AT - 1)
    return 1;
  for (i = 0; i < n; i++)
    if (t[i] >= 0x80 || (t[i] == '=' && i + 1 < n && t[i + 1] == '?') ||
        (mode == W_PHRASE && !smtpc__isatext(t[i])))
      return 1;
  return 0;
}

/* Words separated by white space, folded at that white space: the text of
 * an unstructured field (RFC 5322 3.2.5; W_RAW writes it as given, W_TEXT
 * encodes what needs it) or a phrase (W_PHRASE: words that are not atoms
 * get encoded).  Consecutive words that need encoding become encoded-words
 * together with the white space between them; the white space around such
 * a run stays literal, since decoders keep white space between an
 * encoded-word and plain text.  Encoding word by word keeps ASCII words
 * readable and, for display names, avoids adjacent encoded-words where it
 * can: RFC 2047 6.2 drops the white space between those, and some parsers
 * (Python's email package in phrases) do not. */
static void hw_words(smtpc__hw *h, const char *value, int mode) {
  const unsigned char *v = (const unsigned char *)value;
  size_t n = strlen(value), i = 0;
  int first = 1;
  while (i < n) {
    size_t ws = i, ts, te;
    const char *sep;
    size_t sepn;
    te = i = smtpc__mime_word(value, n, i, &ts);
    sep = (const char *)v + ws;
    sepn = ts - ws;
    if (first && sepn == 0) {
      sep = " ";
      sepn = 1;
    }
    first = 0;
    if (te > ts && needs_ew(v + ts, te - ts, mode)) {
      /* extend over following words that need encoding too */
      size_t j = i, end = te;
      while (j < n) {
        size_t a, b = smtpc__mime_word(value, n, j, &a);
        if (b == a || !needs_ew(v + a, b - a, mode))
          break;
        end = b;
        j = b;
      }
      hw_encoded(h, sep, sepn, v + ts, end - ts, NULL);
      i = end;
    } else {
      smtpc__hw_token(h, sep, sepn, v + ts, te - ts, NULL);
    }
  }
}

/* A display name (RFC 5322 phrase): a short ASCII name that is not a run
 * of atoms becomes a quoted string; otherwise atoms and encoded-words
 * (hw_words), or one run of encoded-words when its spacing (leading,
 * trailing or double spaces) could not survive as phrase white space. */
static void hw_phrase(smtpc__hw *h, const char *name) {
  const unsigned char *s = (const unsigned char *)name;
  size_t n = strlen(name), i, wlen = 0, esc = 0;
  int atoms = 1, ascii = 1, spacing = n == 0 || s[0] == ' ' || s[n - 1] == ' ';
  for (i = 0; i < n; i++) {
    if (s[i] >= 0x80)
      ascii = 0;
    if (s[i] == '"' || s[i] == '\\')
      esc++;
    if (s[i] == ' ') {
      if (i > 0 && s[i - 1] == ' ')
        spacing = 1;
      wlen = 0;
    } else if (!smtpc__isatext(s[i]) || ++wlen > FOLD_AT - 2) {
      atoms = 0;
    }
  }
  if (smtpc__mime_find(s, n, "=?", 2) != SIZE_MAX)
    ascii = atoms = 0;
  if (ascii && !spacing && atoms) {
    hw_words(h, name, W_PHRASE);
  } else if (ascii && n + esc <= QUOTED_MAX) {
    char q[QUOTED_MAX + 3];
    smtpc__hw_token(h, " ", 1, q, put_quoted(q, s, n), NULL);
  } else if (spacing) {
    hw_encoded(h, " ", 1, s, n, NULL);
  } else {
    hw_words(h, name, W_PHRASE);
  }
}

static void hw_mailbox(smtpc__hw *h, const smtpc__mbox *b, int last) {
  const char *suf = last ? NULL : ",", *addr;
  char conv[SMTPC__MIME_ADDR_MAX];
  int rv = smtpc__mime_addr(h->m, b->addr, conv, &addr);
  if (rv != SMTPC_OK) {
    if (h->rv == SMTPC_OK)
      h->rv = rv;
    return;
  }
  if (b->name != NULL && b->name[0] != '\0') {
    char a[300];
    size_t n = strlen(addr);
    hw_phrase(h, b->name);
    a[0] = '<';
    memcpy(a + 1, addr, n); /* addresses are at most 254 octets */
    a[n + 1] = '>';
    smtpc__hw_token(h, " ", 1, a, n + 2, suf);
  } else {
    smtpc__hw_token(h, " ", 1, addr, strlen(addr), suf);
  }
}

static void hw_rcpts(smtpc__hw *h, const smtpc_msg *m, int kind,
                     const char *name) {
  size_t i, last = SIZE_MAX;
  for (i = 0; i < m->nrcpts; i++)
    if (m->rcpts[i].kind == kind)
      last = i;
  if (last == SIZE_MAX)
    return;
  smtpc__hw_field(h, name);
  for (i = 0; i <= last; i++)
    if (m->rcpts[i].kind == kind)
      hw_mailbox(h, &m->rcpts[i].mb, i == last);
  smtpc__hw_end(h);
}

static void hw_single(smtpc__hw *h, const char *name, const smtpc__mbox *b) {
  if (b->addr == NULL)
    return;
  smtpc__hw_field(h, name);
  hw_mailbox(h, b, 1);
  smtpc__hw_end(h);
}

/* RFC 2231 attribute-char, less a few that some readers mishandle. */
static int pct_safe(unsigned char c) {
  return smtpc__isalnum(c) || (c != 0 && strchr("!#$&+-.^_`|~", c) != NULL);
}

/* attr="..." with at most QUOTED_MAX characters inside, or one RFC 2231
 * piece */
#define PARAM_MAX (8 + 3 + QUOTED_MAX + 32)

/* attr*=UTF-8''%xx (RFC 2231), split into attr*0*, attr*1*, ... when it
 * would not fit a line, never inside a character.  suf follows the last
 * piece. */
static void hw_param_2231(smtpc__hw *h, const char *attr,
                          const unsigned char *s, size_t n, const char *suf) {
  char buf[PARAM_MAX];
  size_t an = strlen(attr), plen = 0, i;
  unsigned sec = 0;
  int single;
  for (i = 0; i < n; i++)
    plen += pct_safe(s[i]) ? 1 : 3;
  /* one piece if " attr*=UTF-8''..." fits a continuation line */
  single = 1 + an + 10 + plen + 1 <= FOLD_AT;
  i = 0;
  while (i < n) { /* file names are not empty */
    size_t k = an, start = i;
    memcpy(buf, attr, an);
    buf[k++] = '*';
    if (!single) {
      k += fmt_uint(buf + k, sec, 1);
      buf[k++] = '*';
    }
    buf[k++] = '=';
    if (sec == 0) {
      memcpy(buf + k, "UTF-8''", 7);
      k += 7;
    }
    while (i < n) {
      size_t cl = smtpc__mime_utf8_len(s + i, n - i), cost = 0, j;
      if (cl == 0)
        cl = 1;
      for (j = 0; j < cl; j++)
        cost += pct_safe(s[i + j]) ? 1 : 3;
      if (!single && k + cost > FOLD_AT - 4 && i > start)
        break;
      for (j = 0; j < cl; j++) {
        unsigned char c = s[i + j];
        if (pct_safe(c))
          buf[k++] = (char)c;
        else
          k += put_hex(buf + k, '%', c);
      }
      i += cl;
      if (single && k > sizeof(buf) - 16)
        break; /* not reached: single means it all fits */
    }
    smtpc__hw_token(h, " ", 1, buf, k, i >= n ? suf : ";");
    sec++;
  }
}

/* A parameter carrying a file name: attr="name" for short printable ASCII,
 * else RFC 2231 (hw_param_2231).  suf follows the last piece. */
void smtpc__hw_param_name(smtpc__hw *h, const char *attr, const char *val,
                          const char *suf) {
  const unsigned char *s = (const unsigned char *)val;
  size_t n = strlen(val), i, an = strlen(attr), esc = 0;
  int ascii = smtpc__mime_find(s, n, "=?", 2) == SIZE_MAX;
  for (i = 0; i < n; i++) {
    if (s[i] < 32 || s[i] > 126)
      ascii = 0;
    if (s[i] == '"' || s[i] == '\\')
      esc++;
  }
  if (ascii && n + esc <= QUOTED_MAX) {
    char buf[PARAM_MAX];
    memcpy(buf, attr, an);
    buf[an] = '=';
    smtpc__hw_token(h, " ", 1, buf, an + 1 + put_quoted(buf + an + 1, s, n),
                    suf);
  } else {
    hw_param_2231(h, attr, s, n, suf);
  }
}

/* The message's own header fields, Date to MIME-Version (the entity
 * fields of the body follow them). */
void smtpc__hw_message(smtpc__hw *h) {
  const smtpc_msg *m = h->m;
  char date[40];
  size_t i;
  fmt_date(date, m->date, m->date_off);
  smtpc__hw_field(h, "Date");
  smtpc__hw_token(h, " ", 1, date, strlen(date), NULL);
  smtpc__hw_end(h);
  hw_single(h, "From", &m->from);
  hw_single(h, "Sender", &m->sender);
  hw_single(h, "Reply-To", &m->reply_to);
  hw_rcpts(h, m, SMTPC__RCPT_TO, "To");
  hw_rcpts(h, m, SMTPC__RCPT_CC, "Cc");
  if (m->subject != NULL) {
    smtpc__hw_field(h, "Subject");
    hw_words(h, m->subject, W_TEXT);
    smtpc__hw_end(h);
  }
  smtpc__hw_field(h, "Message-ID");
  smtpc__hw_put(h, " <", 2);
  smtpc__hw_str(h, m->msgid);
  smtpc__hw_put(h, ">", 1);
  smtpc__hw_end(h);
  if (m->tls_required_no)
    smtpc__hw_str(h, "TLS-Required: No\r\n"); /* RFC 8689 3 */
  for (i = 0; i < m->nfields; i++) {
    const char *v = m->fields[i].value;
    smtpc__hw_field(h, m->fields[i].name);
    hw_words(h, v, smtpc__has_8bit(v, strlen(v)) ? W_TEXT : W_RAW);
    smtpc__hw_end(h);
  }
  smtpc__hw_str(h, "MIME-Version: 1.0\r\n");
}
