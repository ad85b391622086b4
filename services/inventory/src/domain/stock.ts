/** Stock of one product: units for sale, units held by reservations, units sold. */
export interface Stock {
  productId: string;
  available: number;
  reserved: number;
  committed: number;
}

/** A product nobody has stocked yet has nothing to sell. */
export const emptyStock = (productId: string): Stock => ({ productId, available: 0, reserved: 0, committed: 0 });

/** Raised inside a reservation so that the whole reservation rolls back. */
export class InsufficientStockError extends Error {
  constructor(
    readonly productId: string,
    readonly requested: number,
    readonly available: number,
  ) {
    super(`insufficient stock for product ${productId}: requested ${requested}, available ${available}`);
  }
}
