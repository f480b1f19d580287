-- Submit idempotency, cancellation and re-runs.
ALTER TABLE requests
  ADD COLUMN idempotency_key text,
  ADD COLUMN request_hash text,               -- SHA-256 of the submitted body, for key reuse checks
  ADD COLUMN cancel_requested boolean NOT NULL DEFAULT false,
  ADD COLUMN rerun_of uuid REFERENCES requests (id);

CREATE UNIQUE INDEX requests_idempotency_idx ON requests (idempotency_key)
  WHERE idempotency_key IS NOT NULL;
CREATE INDEX requests_rerun_idx ON requests (rerun_of) WHERE rerun_of IS NOT NULL;
