-- Leases on jobs (store/postgres/leases.rs): a pass counts a hook's jobs
-- claimed by every engine before it claims more, and a hook's backlog is
-- not read to count them.
CREATE INDEX jobs_claimed ON jobs (hook_id, claimed_until) WHERE claimed_by IS NOT NULL;
