-- The core entities. CHECK constraints repeat the domain's validation so
-- that no writer, not even a hand-written SQL session, stores what the API
-- would refuse.

-- +goose Up
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE features (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name              text NOT NULL CHECK (char_length(name) BETWEEN 2 AND 255),
    description       text NOT NULL DEFAULT '' CHECK (char_length(description) <= 2000),
    complexity_points integer NOT NULL CHECK (complexity_points BETWEEN 1 AND 13),
    status            text NOT NULL DEFAULT 'DRAFT'
                      CHECK (status IN ('DRAFT', 'IN_PROGRESS', 'READY', 'SHIPPED', 'ARCHIVED')),
    -- The last build number handed out. Incrementing it under the row lock
    -- serializes concurrent createBuild calls, and it never goes down, so
    -- numbers are not reused after a build is deleted.
    last_build_number integer NOT NULL DEFAULT 0,
    version           integer NOT NULL DEFAULT 1,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX features_created_at_idx ON features (created_at, id);
CREATE INDEX features_updated_at_idx ON features (updated_at, id);
CREATE INDEX features_name_idx ON features (name, id);
CREATE INDEX features_complexity_idx ON features (complexity_points, id);
CREATE INDEX features_status_idx ON features (status, created_at, id);
-- Substring search over name or description (ILIKE '%term%').
CREATE INDEX features_name_trgm_idx ON features USING gin (name gin_trgm_ops);
CREATE INDEX features_description_trgm_idx ON features USING gin (description gin_trgm_ops);

CREATE TABLE test_cases (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    feature_id      bigint NOT NULL REFERENCES features (id) ON DELETE CASCADE,
    title           text NOT NULL CHECK (char_length(title) BETWEEN 2 AND 255),
    steps           text NOT NULL DEFAULT '' CHECK (char_length(steps) <= 10000),
    expected_result text NOT NULL DEFAULT '' CHECK (char_length(expected_result) <= 2000),
    status          text NOT NULL DEFAULT 'NOT_RUN'
                    CHECK (status IN ('NOT_RUN', 'PASSED', 'FAILED', 'SKIPPED')),
    version         integer NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX test_cases_feature_idx ON test_cases (feature_id, created_at, id);

CREATE TABLE builds (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    feature_id  bigint NOT NULL REFERENCES features (id) ON DELETE CASCADE,
    number      integer NOT NULL CHECK (number >= 1),
    commit_sha  text NOT NULL CHECK (commit_sha ~ '^[0-9a-f]{7,64}$'),
    branch      text NOT NULL CHECK (char_length(branch) BETWEEN 1 AND 255),
    status      text NOT NULL DEFAULT 'QUEUED'
                CHECK (status IN ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED')),
    started_at  timestamptz,
    finished_at timestamptz,
    version     integer NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (feature_id, number)
);
-- (feature_id, number) is covered by the unique constraint's index.
CREATE INDEX builds_feature_created_idx ON builds (feature_id, created_at, id);
CREATE INDEX builds_created_at_idx ON builds (created_at, id);
CREATE INDEX builds_updated_at_idx ON builds (updated_at, id);
CREATE INDEX builds_status_idx ON builds (status, created_at, id);
CREATE INDEX builds_branch_idx ON builds (branch, created_at, id);

CREATE TABLE deployments (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    build_id        bigint NOT NULL REFERENCES builds (id) ON DELETE CASCADE,
    feature_id      bigint NOT NULL REFERENCES features (id) ON DELETE CASCADE,
    environment     text NOT NULL CHECK (environment ~ '^[a-z0-9-]{1,63}$'),
    status          text NOT NULL DEFAULT 'QUEUED'
                    CHECK (status IN ('QUEUED', 'IN_PROGRESS', 'SUCCEEDED', 'FAILED', 'CANCELLED')),
    progress        integer NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    stages          jsonb NOT NULL DEFAULT '[]',
    error           text,
    idempotency_key text UNIQUE,
    started_at      timestamptz,
    finished_at     timestamptz,
    version         integer NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX deployments_build_idx ON deployments (build_id, created_at, id);
CREATE INDEX deployments_feature_idx ON deployments (feature_id, created_at, id);
CREATE INDEX deployments_created_at_idx ON deployments (created_at, id);
CREATE INDEX deployments_updated_at_idx ON deployments (updated_at, id);
CREATE INDEX deployments_environment_idx ON deployments (environment, created_at, id);
CREATE INDEX deployments_status_idx ON deployments (status, created_at, id);
-- At most one active deployment of a feature to an environment.
CREATE UNIQUE INDEX deployments_one_active_idx ON deployments (feature_id, environment)
    WHERE status IN ('QUEUED', 'IN_PROGRESS');

CREATE TABLE deployment_events (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    deployment_id bigint NOT NULL REFERENCES deployments (id) ON DELETE CASCADE,
    sequence      integer NOT NULL CHECK (sequence >= 1),
    stage         text CHECK (stage IN ('PRE_CHECKS', 'BUILD_ARTIFACTS', 'PREPARE_INFRASTRUCTURE', 'EXECUTE')),
    stage_status  text CHECK (stage_status IN ('PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED')),
    status        text NOT NULL
                  CHECK (status IN ('QUEUED', 'IN_PROGRESS', 'SUCCEEDED', 'FAILED', 'CANCELLED')),
    progress      integer NOT NULL CHECK (progress BETWEEN 0 AND 100),
    message       text NOT NULL DEFAULT '',
    occurred_at   timestamptz NOT NULL DEFAULT now(),
    -- Gapless per deployment: the writer takes max+1 under the deployment's
    -- row lock; the unique index turns any slip into an error, not a dup.
    UNIQUE (deployment_id, sequence)
);

-- +goose Down
DROP TABLE deployment_events;
DROP TABLE deployments;
DROP TABLE builds;
DROP TABLE test_cases;
DROP TABLE features;
