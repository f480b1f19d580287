-- Who submitted a request (the API token's name), and the URL told when it ends.
ALTER TABLE requests ADD COLUMN submitted_by text, ADD COLUMN callback_url text;

-- One callback delivery per request with a callback_url, created by the same statement that
-- ends the request (trigger below), so no path to a final status can forget it.
CREATE TABLE callbacks (
  request_id       uuid PRIMARY KEY REFERENCES requests (id) ON DELETE CASCADE,
  url              text NOT NULL,
  status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts         int NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  lease_owner      text,
  lease_until      timestamptz,
  last_error       text,
  history          jsonb NOT NULL DEFAULT '[]',
  created_at       timestamptz NOT NULL DEFAULT now(),
  delivered_at     timestamptz
);
CREATE INDEX callbacks_due ON callbacks (next_attempt_at) WHERE status = 'pending';

CREATE FUNCTION wf_request_ended() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO callbacks (request_id, url) VALUES (NEW.id, NEW.callback_url)
    ON CONFLICT (request_id) DO NOTHING;
  PERFORM pg_notify('wf_callbacks', '');
  RETURN NULL;
END $$;

CREATE TRIGGER requests_ended AFTER UPDATE OF status ON requests
  FOR EACH ROW
  WHEN (NEW.callback_url IS NOT NULL
        AND NEW.status IN ('succeeded', 'failed', 'cancelled')
        AND OLD.status NOT IN ('succeeded', 'failed', 'cancelled'))
  EXECUTE FUNCTION wf_request_ended();
