/*
 * checks.h: pure input-shape checks (E.164 phones, e-mail addresses, IANA
 * time-zone name shape, language tags). Plain C over a NUL-terminated
 * string: no PostgreSQL headers, no allocation, no I/O, so the libFuzzer
 * harnesses in fuzz/ can link them directly. validate.c wraps them with
 * ereport.
 */
#ifndef COLLECT_CHECKS_H
#define COLLECT_CHECKS_H

#include <stdbool.h>

#define CHECKS_MAX_TZ_NAME 64

extern bool is_e164(const char *phone);
extern bool is_email(const char *email);
extern bool is_tz_name_shape(const char *tzname);
extern bool is_language_tag(const char *language);

#endif
