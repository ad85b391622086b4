import { env, productionRefuses } from "./config.js";
/**
 * The demo catalog seeded on first start: catalog seeds the products, inventory their
 * stock. Fixed ids so that README examples work when pasted.
 */
export const demoProducts = [
  {
    id: "8d0f7b8e-1b9a-4c53-9a43-0c8a5f1e0001",
    sku: "MUG-001",
    name: "Espresso mug",
    description: "Stoneware, 90 ml.",
    priceMinor: 1299n,
    stock: 500,
  },
  {
    id: "8d0f7b8e-1b9a-4c53-9a43-0c8a5f1e0002",
    sku: "TEE-002",
    name: "Logo t-shirt",
    description: "Organic cotton, unisex.",
    priceMinor: 2499n,
    stock: 300,
  },
  {
    id: "8d0f7b8e-1b9a-4c53-9a43-0c8a5f1e0003",
    sku: "BAG-003",
    name: "Canvas tote",
    description: "Heavy canvas, 12 l.",
    priceMinor: 1999n,
    stock: 200,
  },
  {
    id: "8d0f7b8e-1b9a-4c53-9a43-0c8a5f1e0004",
    sku: "NOTE-004",
    name: "Dot-grid notebook",
    description: "A5, 120 pages.",
    priceMinor: 1499n,
    stock: 400,
  },
  {
    id: "8d0f7b8e-1b9a-4c53-9a43-0c8a5f1e0005",
    sku: "PEN-005",
    name: "Fountain pen",
    description: "Steel nib, medium.",
    priceMinor: 4900n,
    stock: 100,
  },
  {
    id: "8d0f7b8e-1b9a-4c53-9a43-0c8a5f1e0006",
    sku: "LAMP-006",
    name: "Desk lamp",
    description: "Dimmable LED.",
    priceMinor: 8900n,
    stock: 5,
  },
] as const;

export const demoCurrency = "USD";

/** `SEED_DEMO_DATA`: the demo products and their stock, seeded at start; production refuses them. */
export const seedDemoDataVariable = productionRefuses(env.bool(true), (seed) =>
  seed ? "would seed demo products (it defaults to true); set SEED_DEMO_DATA=false" : undefined,
);
