/** A product as the catalog owns it; prices in integer minor units. */
export interface Product {
  id: string;
  sku: string;
  name: string;
  description: string;
  currency: string;
  priceMinor: bigint;
  createdAt: Date;
  updatedAt: Date;
}

export type NewProduct = Pick<Product, "id" | "sku" | "name" | "description" | "currency" | "priceMinor">;
