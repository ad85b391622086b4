import type { MessageInitShape } from "@bufbuild/protobuf";
import { type Timestamp, timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { Address, AddressSchema } from "@shop/contracts/shop/common/v1/address_pb.js";
import type { Money as MoneyMessage, MoneySchema } from "@shop/contracts/shop/common/v1/money_pb.js";
import {
  type OrderItem,
  type OrderItemSchema,
  type Order as OrderMessage,
  type OrderSchema,
  OrderStatus as OrderStatusMessage,
} from "@shop/contracts/shop/orders/v1/orders_pb.js";
import type { CancellationReason, Money, OrderLine, OrderStatus, OrderView, ShippingAddress } from "../domain/order.js";

/** Conversions between the domain and the contract, shared by handlers, events and the read model. */

export const moneyMessage = (money: Money): MessageInitShape<typeof MoneySchema> => ({
  currencyCode: money.currency,
  amountMinor: money.amountMinor,
});

export const moneyFromMessage = (money: MoneyMessage | undefined): Money | null =>
  money ? { currency: money.currencyCode, amountMinor: money.amountMinor } : null;

export const addressMessage = (address: ShippingAddress): MessageInitShape<typeof AddressSchema> => ({ ...address });

export const addressFromMessage = (address: Address): ShippingAddress => ({
  recipient: address.recipient,
  line1: address.line1,
  line2: address.line2,
  city: address.city,
  postalCode: address.postalCode,
  countryCode: address.countryCode,
});

export const orderItemMessage = (line: OrderLine): MessageInitShape<typeof OrderItemSchema> => ({
  productId: line.productId,
  name: line.name,
  quantity: line.quantity,
  unitPrice: line.unitPrice ? moneyMessage(line.unitPrice) : undefined,
  lineTotal: line.lineTotal ? moneyMessage(line.lineTotal) : undefined,
});

export const orderLineFromMessage = (item: OrderItem): OrderLine => ({
  productId: item.productId,
  quantity: item.quantity,
  name: item.name,
  unitPrice: moneyFromMessage(item.unitPrice),
  lineTotal: moneyFromMessage(item.lineTotal),
});

const statusMessage: Record<OrderStatus, OrderStatusMessage> = {
  PENDING: OrderStatusMessage.PENDING,
  CONFIRMED: OrderStatusMessage.CONFIRMED,
  CANCELLED: OrderStatusMessage.CANCELLED,
};

function statusFromMessage(status: OrderStatusMessage): OrderStatus {
  const found = (Object.keys(statusMessage) as OrderStatus[]).find((key) => statusMessage[key] === status);
  if (!found) throw new Error(`unknown order status ${status}`);
  return found;
}

export const timestamp = (date: Date): Timestamp => timestampFromDate(date);

export function orderMessage(order: OrderView): MessageInitShape<typeof OrderSchema> {
  return {
    id: order.id,
    userId: order.userId,
    status: statusMessage[order.status],
    items: order.items.map(orderItemMessage),
    // The total is zero until the items are priced.
    total: order.total ? moneyMessage(order.total) : { currencyCode: "", amountMinor: 0n },
    cancellationReason: order.cancellationReason,
    shippingAddress: order.shippingAddress ? addressMessage(order.shippingAddress) : undefined,
    createTime: timestamp(order.createTime),
    updateTime: timestamp(order.updateTime),
  };
}

export function orderViewFromMessage(order: OrderMessage): OrderView {
  return {
    id: order.id,
    userId: order.userId,
    status: statusFromMessage(order.status),
    items: order.items.map(orderLineFromMessage),
    total: order.total && order.total.currencyCode !== "" ? moneyFromMessage(order.total) : null,
    cancellationReason: order.cancellationReason as CancellationReason | "",
    shippingAddress: order.shippingAddress ? addressFromMessage(order.shippingAddress) : null,
    createTime: order.createTime ? timestampDate(order.createTime) : new Date(0),
    updateTime: order.updateTime ? timestampDate(order.updateTime) : new Date(0),
  };
}
