-- One role and one database per subgraph: a subgraph's credentials open its own database
-- and no other, so "never read another subgraph's tables" holds by construction.
-- Passwords here are for local use of docker-compose only; production sets its own.
CREATE ROLE accounts LOGIN PASSWORD 'accounts';
CREATE DATABASE construct_accounts OWNER accounts;
REVOKE ALL ON DATABASE construct_accounts FROM PUBLIC;

CREATE ROLE deployments LOGIN PASSWORD 'deployments';
CREATE DATABASE construct_deployments OWNER deployments;
REVOKE ALL ON DATABASE construct_deployments FROM PUBLIC;

CREATE ROLE developer LOGIN PASSWORD 'developer';
CREATE DATABASE construct_developer OWNER developer;
REVOKE ALL ON DATABASE construct_developer FROM PUBLIC;

CREATE ROLE events LOGIN PASSWORD 'events';
CREATE DATABASE construct_events OWNER events;
REVOKE ALL ON DATABASE construct_events FROM PUBLIC;
