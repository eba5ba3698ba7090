-- The whole queue is no longer indexed by due time: every read of it goes
-- hook by hook (`jobs_by_hook`: the dispatcher's heads and claims, the
-- queue summary's earliest due time) or by id (an export's pages). Each
-- job queued and each claim wrote an entry into it. Without it, bench/e2e
-- A on PostgreSQL (medians of 3, alternated, 2026-12-07): the server's CPU
-- 313 → 301 µs per event, deliveries 3,128 → 3,247/s (a second series,
-- 3,129 → 3,181/s, within the machine's spread).
DROP INDEX jobs_by_due;
