/* SPDX-License-Identifier: MIT */
/* Runs tests/faultd.py for a Check suite (check_faults, check_client): one
 * process serving every scenario the suite names, one port each, logging
 * what every connection did to a temporary file the tests read back.  Only
 * 127.0.0.1 is used; every wait is bounded. */
#ifndef FAULTD_RUN_H
#define FAULTD_RUN_H

#include <stddef.h>

struct Suite; /* <check.h> */

/* Milliseconds on the monotonic clock; a sleep that survives EINTR. */
long tf_now_ms(void);
void tf_sleep_ms(long ms);

/* Starts faultd.py (found through $top_srcdir, run with $PYTHON or python3)
 * with these scenarios and waits (30 s at most) until it has announced a
 * port for each.  who names the suite in messages and in the log's file
 * name.  Returns 0, or -1 after printing why (the caller skips: exit 77). */
int tf_faultd_start(const char *who, const char *const *specs, size_t n);
/* SIGTERM, then SIGKILL after 3 s.  The log file stays. */
void tf_faultd_stop(void);
/* The port of a scenario given to tf_faultd_start (aborts the test if it
 * has none). */
const char *tf_port_of(const char *spec);
/* The log file ("" before tf_faultd_start). */
const char *tf_log_path(void);
/* The whole log, malloc'd and NUL-terminated (aborts the test if it cannot
 * be read). */
char *tf_log_read(void);

/* The lines of connection `tag` ("SCENARIO#N") whose text after the tag
 * starts with `prefix`, each without the tag and with its "\n", joined
 * (malloc'd; "" if none).  *count (if not NULL) gets how many. */
char *tf_log_lines(const char *log, const char *tag, const char *prefix,
                   int *count);
/* Waits (wait_ms at most, then aborts the test) until faultd has logged
 * the END of connection `tag`; returns the whole log (malloc'd). */
char *tf_log_wait_end(const char *tag, long wait_ms);

/* A suite's whole main(): starts faultd with the scenarios, runs the suite,
 * stops faultd, and removes its log unless a test failed or the variable
 * keep_env is set (then says where it is).  Returns the exit status: 0, 1
 * when a test failed, 77 when faultd could not start. */
int tf_run_suite(const char *who, const char *const *specs, size_t n,
                 struct Suite *suite, const char *keep_env);

/* "PROTOCOL", "EOF", ... for an smtpc error code, for messages. */
const char *tf_err_name(int e);

#endif /* FAULTD_RUN_H */
