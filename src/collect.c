/*
 * collect.c: the library's entry point. _PG_init defines the GUCs that are
 * not a module's own and hands off to each module's Init(); no logic here.
 */
#include "collect.h"
#include "worker.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	WorkerInit();
	MarkGUCPrefixReserved("collect");
}
