/*
 * kpi.h: declarations of the KPI rollups (kpi_rollup.c).
 */
#ifndef COLLECT_KPI_H
#define COLLECT_KPI_H

#include "collect.h"

/* rollup rows per (practice, day[, segment]) are spread over this many slots */
#define KPI_SLOTS 8

#endif
