-- Engines are woken by the process that inserted requests, after its commit (one NOTIFY
-- wf_requests for a burst of inserts, see RequestStore), rather than by a trigger: a
-- NOTIFY inside the inserting transaction holds the notification queue lock through that
-- transaction's WAL flush, which serialised the commits of concurrent submissions.
DROP TRIGGER IF EXISTS requests_notify ON requests;
DROP FUNCTION IF EXISTS wf_notify_requests();
