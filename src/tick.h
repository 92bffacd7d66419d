/*
 * tick.h: the passes collect.tick runs. Each pass takes every action of
 * its kind due at or before as_of and returns how many it took; calling a
 * pass twice with the same as_of takes no new action.
 */
#ifndef COLLECT_TICK_H
#define COLLECT_TICK_H

#include "collect.h"

typedef int64 (*TickPass) (TimestampTz as_of);

/* cadence.c's state machine over the accounts due (tick.c) */
extern int64 cadence_tick(TimestampTz as_of);

#endif
