import type { deploymentStatuses } from '../../../db/deployments/schema';
import { builder } from '../builder';
import type { steps } from '../runtime/runtime';

export const DeploymentStatusEnum = builder.enumType('DeploymentStatus', {
  description: 'Where a deployment is in its life.',
  values: {
    QUEUED: { description: 'Waiting for a build slot of its organization.' },
    BUILDING: { description: 'Fetching the source, installing and building.' },
    DEPLOYING: { description: 'Built; starting the app and checking its health.' },
    READY: { description: 'Running and reachable at its URL.' },
    ERROR: { description: 'A step failed; see `errorMessage` and the build logs.' },
    CANCELED: { description: 'Canceled before it became READY.' },
    CRASHED: { description: 'Was READY, then the app exited; it is restarted with backoff up to a limit.' },
    REMOVED: { description: 'Stopped and deleted with its project.' },
  } satisfies Record<(typeof deploymentStatuses)[number], { description: string }>,
});

export const DeploymentStepEnum = builder.enumType('DeploymentStep', {
  description: 'A step of the deployment pipeline, in order.',
  values: {
    SOURCE: { description: 'Clone the repository at the ref, or unpack the upload.' },
    INSTALL: { description: 'Install dependencies.' },
    BUILD: { description: 'Run the build command.' },
    START: { description: 'Start the app with its environment and PORT.' },
    HEALTHCHECK: { description: 'Wait for the app to answer its health-check path.' },
    ROUTE: { description: 'Point the deployment’s URLs at the running app.' },
  } satisfies Record<(typeof steps)[number], { description: string }>,
});

export const StepOutcomeEnum = builder.enumType('DeploymentStepOutcome', {
  description: 'How a pipeline step ended (or that it is still running).',
  values: {
    RUNNING: { description: 'Under way.' },
    SUCCEEDED: { description: 'Done without error.' },
    FAILED: { description: 'Failed: the deployment ended in ERROR.' },
    SKIPPED: { description: 'Not needed (no build command, say).' },
    CANCELED: { description: 'Stopped because the deployment was canceled.' },
  },
});

export const FrameworkEnum = builder.enumType('Framework', {
  description: 'What a build detected the app to be.',
  values: {
    NODE: { description: 'A Node.js app (package.json): installed with npm, started with its start script.' },
    STATIC: { description: 'A static site (index.html), served as files.' },
  },
});

export const EnvironmentKindEnum = builder.enumType('EnvironmentKind', {
  description: 'What an environment is for.',
  values: {
    PRODUCTION: { description: 'Serves the project’s production URL.' },
    PREVIEW: { description: 'Deployments of other branches and of uploads, each at its own URL.' },
    CUSTOM: { description: 'Added by the team, such as `staging`.' },
  },
});

export const LogTypeEnum = builder.enumType('DeploymentLogType', {
  description: 'Which part of a deployment’s life a log line comes from.',
  values: {
    BUILD: { description: 'The pipeline: source, install, build and the steps around them.' },
    RUNTIME: { description: 'The running app’s output, and its starts, crashes and restarts.' },
  },
});

export const LogStreamEnum = builder.enumType('DeploymentLogStream', {
  description: 'Who wrote a log line.',
  values: {
    STDOUT: { description: 'The command’s standard output.' },
    STDERR: { description: 'The command’s standard error.' },
    SYSTEM: { description: 'Construct itself (a step starting, an error, a restart).' },
  },
});

export const SourceKindEnum = builder.enumType('DeploymentSourceKind', {
  description: 'Where a deployment’s code came from.',
  values: {
    GIT: { description: 'A git repository at a ref.' },
    UPLOAD: { description: 'An archive uploaded by a CLI.' },
  },
});
