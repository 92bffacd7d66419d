# PGXS build for collect. The install script is assembled from the
# fragments in sql/install/ (one per concern, applied in name order) so that
# each module keeps its own DDL next to its own tests.
EXTENSION   = collect
MODULE_big  = collect
SRCS        = $(sort $(wildcard src/*.c src/providers/*.c))
OBJS        = $(SRCS:.c=.o)
DATA_built  = sql/collect--0.2.sql
DATA        = $(filter-out $(DATA_built),$(wildcard sql/collect--*--*.sql))
PG_CPPFLAGS = -Isrc -std=gnu11 -Wall -Wmissing-prototypes
SHLIB_LINK  = -lcurl

# every sql/*.sql that is not an install/upgrade script is a pg_regress test
REGRESS      = $(sort $(patsubst sql/%.sql,%,$(filter-out sql/collect--%,$(wildcard sql/*.sql))))
REGRESS_OPTS = --dbname=contrib_regression

# every object is rebuilt when a header changes (PGXS does not track them)
$(OBJS): $(wildcard src/*.h)

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)
.DEFAULT_GOAL := all

sql/collect--0.2.sql: $(sort $(wildcard sql/install/*.sql))
	cat $^ > $@
