import { randomUUID } from "node:crypto";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import type { CatalogService, Product as ProductMessage, ProductSchema } from "@shop/contracts/shop/catalog/v1/catalog_pb.js";
import { decodePageToken, errors, pageOf, pageSizeOf } from "@shop/runtime";
import { DuplicateSkuError, type ProductRepository } from "../db/products.js";
import type { Product } from "../domain/product.js";

export function toProductMessage(product: Product): MessageInitShape<typeof ProductSchema> {
  return {
    id: product.id,
    sku: product.sku,
    name: product.name,
    description: product.description,
    price: { currencyCode: product.currency, amountMinor: product.priceMinor },
    createTime: timestampFromDate(product.createdAt),
    updateTime: timestampFromDate(product.updatedAt),
  };
}

export type { ProductMessage };

export function catalogHandlers(products: ProductRepository): ServiceImpl<typeof CatalogService> {
  return {
    async createProduct(req) {
      try {
        const product = await products.create({
          id: randomUUID(),
          sku: req.sku,
          name: req.name,
          description: req.description,
          currency: req.price!.currencyCode,
          priceMinor: req.price!.amountMinor,
        });
        return { product: toProductMessage(product) };
      } catch (err) {
        if (err instanceof DuplicateSkuError) throw errors.alreadyExists(`a product with sku ${req.sku} already exists`);
        throw err;
      }
    },

    async getProduct(req) {
      const product = await products.get(req.productId);
      if (!product) throw errors.notFound("product", req.productId);
      return { product: toProductMessage(product) };
    },

    async listProducts(req) {
      const after = decodePageToken(req.pageToken);
      const size = pageSizeOf(req.pageSize);
      const page = pageOf(await products.list(size + 1, after), size, (product) => ({ time: product.createdAt, id: product.id }));
      return { products: page.items.map(toProductMessage), nextPageToken: page.nextPageToken };
    },

    async updateProductPrice(req) {
      const product = await products.updatePrice(req.productId, req.price!.currencyCode, req.price!.amountMinor);
      if (!product) throw errors.notFound("product", req.productId);
      return { product: toProductMessage(product) };
    },

    async batchGetProducts(req) {
      const found = new Map((await products.getMany(req.productIds)).map((p) => [p.id, p]));
      const missing = req.productIds.filter((id) => !found.has(id));
      if (missing.length > 0) throw errors.notFound("product", missing.join(", "));
      return { products: req.productIds.map((id) => toProductMessage(found.get(id)!)) };
    },
  };
}
