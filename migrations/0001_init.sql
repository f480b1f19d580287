-- Requests, their tasks, and the template versions they run with.

CREATE TABLE template_versions (
  hash        text PRIMARY KEY,            -- SHA-256 of the canonical template document
  name        text NOT NULL,
  body        jsonb NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE requests (
  id                 uuid PRIMARY KEY,
  trace_id           uuid NOT NULL,
  template           text NOT NULL,
  template_hash      text NOT NULL REFERENCES template_versions (hash),
  data               jsonb NOT NULL,
  status             text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'cancelled')),
  outputs            jsonb,
  error              text,
  -- Lease: the engine that owns the request, until when, and the fencing epoch that every
  -- write by that engine must present. A claim increments the epoch.
  owner              text,
  epoch              bigint NOT NULL DEFAULT 0,
  lease_expires_at   timestamptz,
  claims             integer NOT NULL DEFAULT 0,
  parent_request_id  uuid REFERENCES requests (id),
  parent_task_id     text,
  created_at         timestamptz NOT NULL DEFAULT now(),
  started_at         timestamptz,
  finished_at        timestamptz,
  updated_at         timestamptz NOT NULL DEFAULT now()
);

-- The claim query scans these two partial indexes only.
CREATE INDEX requests_pending_idx ON requests (created_at) WHERE status = 'pending';
CREATE INDEX requests_lease_idx ON requests (lease_expires_at) WHERE status = 'running';
-- Listing, newest first, optionally by trace, status or template.
CREATE INDEX requests_created_idx ON requests (created_at DESC, id DESC);
CREATE INDEX requests_trace_idx ON requests (trace_id, created_at DESC);
CREATE INDEX requests_status_idx ON requests (status, created_at DESC);
CREATE INDEX requests_template_idx ON requests (template, created_at DESC);
CREATE INDEX requests_parent_idx ON requests (parent_request_id) WHERE parent_request_id IS NOT NULL;

CREATE TABLE task_runs (
  request_id   uuid NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
  task_id      text NOT NULL,
  type         text NOT NULL,
  status       text NOT NULL
               CHECK (status IN ('pending', 'running', 'waiting', 'succeeded', 'failed',
                                 'skipped', 'cancelled')),
  attempts     integer NOT NULL DEFAULT 0,
  outputs      jsonb,
  error        text,
  next_run_at  timestamptz,                -- when a waiting task is invoked again
  started_at   timestamptz,
  finished_at  timestamptz,
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (request_id, task_id)
);

-- One notification per inserting statement wakes the engines; they also poll.
CREATE FUNCTION wf_notify_requests() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('wf_requests', '');
  RETURN NULL;
END $$;

CREATE TRIGGER requests_notify AFTER INSERT ON requests
  FOR EACH STATEMENT EXECUTE FUNCTION wf_notify_requests();
