-- Signals that complete `signal` tasks (manual approvals, external callbacks).
CREATE TABLE task_signals (
  request_id  uuid NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
  task_id     text NOT NULL,
  outputs     jsonb,
  error       text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (request_id, task_id)
);
