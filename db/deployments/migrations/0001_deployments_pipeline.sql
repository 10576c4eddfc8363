CREATE TABLE "deployment_logs" (
	"deployment_id" text NOT NULL,
	"seq" bigint NOT NULL,
	"type" text NOT NULL,
	"stream" text NOT NULL,
	"line" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "deployment_logs_deployment_id_seq_pk" PRIMARY KEY("deployment_id","seq")
);
--> statement-breakpoint
CREATE TABLE "deployment_steps" (
	"deployment_id" text NOT NULL,
	"step" text NOT NULL,
	"outcome" text NOT NULL,
	"started_at" timestamp with time zone NOT NULL,
	"finished_at" timestamp with time zone,
	CONSTRAINT "deployment_steps_deployment_id_step_pk" PRIMARY KEY("deployment_id","step")
);
--> statement-breakpoint
CREATE TABLE "deployments" (
	"id" text PRIMARY KEY NOT NULL,
	"project_id" text NOT NULL,
	"organization_id" text NOT NULL,
	"environment_id" text NOT NULL,
	"creator_id" text NOT NULL,
	"source_kind" text NOT NULL,
	"source_url" text,
	"ref" text,
	"upload_id" text,
	"commit_sha" text,
	"status" text DEFAULT 'QUEUED' NOT NULL,
	"error_message" text,
	"error_step" text,
	"build" jsonb,
	"env_encrypted" text NOT NULL,
	"attempt" integer DEFAULT 0 NOT NULL,
	"runner" text,
	"lease_expires_at" timestamp with time zone,
	"redeploy_of" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"build_started_at" timestamp with time zone,
	"ready_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "environment_variables" (
	"id" text PRIMARY KEY NOT NULL,
	"environment_id" text NOT NULL,
	"key" text NOT NULL,
	"value_encrypted" text NOT NULL,
	"preview" text NOT NULL,
	"updated_by" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "environments" (
	"id" text PRIMARY KEY NOT NULL,
	"project_id" text NOT NULL,
	"name" text NOT NULL,
	"kind" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "uploads" (
	"id" text PRIMARY KEY NOT NULL,
	"project_id" text NOT NULL,
	"created_by" text NOT NULL,
	"token_hash" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"size_bytes" bigint,
	"received_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
DROP INDEX "projects_organization_slug_key";--> statement-breakpoint
ALTER TABLE "projects" ADD COLUMN "host_label" text;--> statement-breakpoint
-- Projects made before the edge existed: their slug, suffixed with their ID where another organization has the same slug.
UPDATE "projects" SET "host_label" = CASE
  WHEN (SELECT count(*) FROM "projects" p WHERE p."slug" = "projects"."slug") = 1 THEN "slug"
  ELSE left("slug", 39) || '-' || lower(right("id", 8)) END;--> statement-breakpoint
ALTER TABLE "projects" ALTER COLUMN "host_label" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "projects" ADD COLUMN "source_url" text;--> statement-breakpoint
ALTER TABLE "projects" ADD COLUMN "production_branch" text DEFAULT 'main' NOT NULL;--> statement-breakpoint
ALTER TABLE "projects" ADD COLUMN "root_directory" text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE "projects" ADD COLUMN "framework" text;--> statement-breakpoint
ALTER TABLE "projects" ADD COLUMN "install_command" text;--> statement-breakpoint
ALTER TABLE "projects" ADD COLUMN "build_command" text;--> statement-breakpoint
ALTER TABLE "projects" ADD COLUMN "start_command" text;--> statement-breakpoint
ALTER TABLE "projects" ADD COLUMN "healthcheck_path" text DEFAULT '/' NOT NULL;--> statement-breakpoint
ALTER TABLE "projects" ADD COLUMN "production_deployment_id" text;--> statement-breakpoint
ALTER TABLE "projects" ADD COLUMN "production_pinned" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "projects" ADD COLUMN "updated_at" timestamp with time zone DEFAULT now() NOT NULL;--> statement-breakpoint
ALTER TABLE "projects" ADD COLUMN "deleted_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "deployment_logs" ADD CONSTRAINT "deployment_logs_deployment_id_deployments_id_fk" FOREIGN KEY ("deployment_id") REFERENCES "public"."deployments"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "deployment_steps" ADD CONSTRAINT "deployment_steps_deployment_id_deployments_id_fk" FOREIGN KEY ("deployment_id") REFERENCES "public"."deployments"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "deployments" ADD CONSTRAINT "deployments_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "deployments" ADD CONSTRAINT "deployments_environment_id_environments_id_fk" FOREIGN KEY ("environment_id") REFERENCES "public"."environments"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "environment_variables" ADD CONSTRAINT "environment_variables_environment_id_environments_id_fk" FOREIGN KEY ("environment_id") REFERENCES "public"."environments"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "environments" ADD CONSTRAINT "environments_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "uploads" ADD CONSTRAINT "uploads_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "deployments_project_id_idx" ON "deployments" USING btree ("project_id","id");--> statement-breakpoint
CREATE INDEX "deployments_creator_id_idx" ON "deployments" USING btree ("creator_id","id");--> statement-breakpoint
CREATE INDEX "deployments_active_idx" ON "deployments" USING btree ("organization_id","status","id") WHERE "deployments"."status" IN ('QUEUED', 'BUILDING', 'DEPLOYING');--> statement-breakpoint
CREATE UNIQUE INDEX "environment_variables_environment_key_key" ON "environment_variables" USING btree ("environment_id","key");--> statement-breakpoint
CREATE UNIQUE INDEX "environments_project_name_key" ON "environments" USING btree ("project_id","name");--> statement-breakpoint
CREATE UNIQUE INDEX "projects_host_label_key" ON "projects" USING btree ("host_label") WHERE "projects"."deleted_at" IS NULL;--> statement-breakpoint
CREATE UNIQUE INDEX "projects_organization_slug_key" ON "projects" USING btree ("organization_id","slug") WHERE "projects"."deleted_at" IS NULL;--> statement-breakpoint
-- Every project has production and preview environments, the ones made before this migration too.
INSERT INTO "environments" ("id", "project_id", "name", "kind")
SELECT 'env_' || upper(substr(md5(random()::text || p."id" || k.name), 1, 26)), p."id", k.name, k.kind
FROM "projects" p CROSS JOIN (VALUES ('production', 'PRODUCTION'), ('preview', 'PREVIEW')) AS k(name, kind);