-- The River job that runs a deployment, so that cancelling the deployment
-- can cancel its job wherever it runs.

-- +goose Up
ALTER TABLE deployments ADD COLUMN job_id bigint;

-- +goose Down
ALTER TABLE deployments DROP COLUMN job_id;
