/*
 * access.h: practice isolation for code that runs with more rights than
 * its caller. A SECURITY DEFINER function (record_event, receive_reply,
 * approve_plan, ...) bypasses row-level security, so it must call
 * practice_access_check(practice_id) before it touches a practice's rows.
 */
#ifndef COLLECT_ACCESS_H
#define COLLECT_ACCESS_H

#include "collect.h"

/*
 * ERROR 42501 unless the calling role (the role outside any SECURITY
 * DEFINER function: GetOuterUserId) may act for practice_id: a superuser,
 * a role with BYPASSRLS, a member of collect_worker, or a member of a role
 * mapped to the practice in collect.staff_practice.
 */
extern void practice_access_check(const char *practice_id);
extern bool practice_access_allowed(Oid role, const char *practice_id);

#endif
