// The one path given to the worker's workflowsPath: every workflow the worker runs.
export { placeOrder } from '../orders/workflows/place-order';
export { transferFunds } from '../wallet/workflow';
