// The workflow interceptor module of the apps' workers (workflowInterceptorModules): each activity's
// summary in the Temporal UI is its saga step.
export { stepSummaryInterceptors as interceptors } from 'idempotent-sagas/workflow';
