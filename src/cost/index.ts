/** The cost model's public face: price tables and per-call pricing. */
export { DEFAULT_PRICES, PriceTableError, loadPriceTable, type PriceTable } from './prices.js';
export { callCost, describeCost, type CallCost, type CallDirection, type CallUsage } from './costModel.js';
