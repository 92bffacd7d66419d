/*
 * revocation.h: is a patient's message a TCPA revocation of consent?
 * Pure text classification (English and Spanish); no SPI, no clock. The
 * replies module calls it from receive_reply; collect.is_revocation
 * exposes it to SQL.
 */
#ifndef COLLECT_REVOCATION_H
#define COLLECT_REVOCATION_H

#include "collect.h"

extern bool tcpa_is_revocation(const char *body);

#endif
