import { type DescMethod, getOption, hasOption } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import { Code, ConnectError, createContextKey } from "@connectrpc/connect";
import { type AccessPolicy, access, Role } from "@shop/contracts/shop/auth/v1/auth_pb.js";
import { errors } from "../errors.js";
import { anonymous, bearerToken, describePrincipal, type Principal, type TokenVerifier } from "./tokens.js";

/** Who may call a method, as its contract declares it (`option (shop.auth.v1.access)`). */
export interface MethodPolicy {
  anonymous: boolean;
  /** Any signed-in end user. */
  customers: boolean;
  /** End users with the admin role. */
  admins: boolean;
  /** Signed-in end users on their own resources (the handler checks whose it is). */
  owners: boolean;
  services: ReadonlySet<string>;
}

/** A method without a declared policy: a contract error, so a new method cannot be left open by omission. */
export class MissingPolicyError extends Error {
  constructor(method: DescMethod) {
    super(`${method.parent.typeName}/${method.name} declares no (shop.auth.v1.access) policy`);
    this.name = "MissingPolicyError";
  }
}

export function policyFrom(declared: AccessPolicy): MethodPolicy {
  return {
    anonymous: declared.anonymous,
    customers: declared.roles.includes(Role.CUSTOMER),
    admins: declared.roles.includes(Role.ADMIN),
    owners: declared.owner,
    services: new Set(declared.services),
  };
}

/** The declared policy of `method`, if it declares one. */
export function declaredPolicy(method: DescMethod): MethodPolicy | undefined {
  return hasOption(method, access) ? policyFrom(getOption(method, access)) : undefined;
}

/** The declared policy of `method`; throws MissingPolicyError when it has none. */
export function methodPolicy(method: DescMethod): MethodPolicy {
  const policy = declaredPolicy(method);
  if (!policy) throw new MissingPolicyError(method);
  return policy;
}

/** Whether `principal` may call a method of `policy` (ownership aside, which the handler checks). */
export function allows(policy: MethodPolicy, principal: Principal): boolean {
  switch (principal.kind) {
    case "anonymous":
      return policy.anonymous;
    case "user":
      return policy.anonymous || policy.customers || policy.owners || (principal.role === "admin" && policy.admins);
    case "service":
      return policy.anonymous || policy.services.has(principal.name);
  }
}

/** The error for a call the policy refuses: UNAUTHENTICATED without a credential, PERMISSION_DENIED with one. */
export function refusal(method: DescMethod, principal: Principal): ConnectError {
  if (principal.kind === "anonymous") {
    return errors.unauthenticated(`${method.name} requires a credential: send authorization: Bearer <token>`);
  }
  return new ConnectError(`${describePrincipal(principal)} may not call ${method.parent.typeName}/${method.name}`, Code.PermissionDenied);
}

/**
 * The caller of a call to `method`: verified from its bearer token, if it sent one, and refused
 * when the method's policy does not allow it.
 */
export async function authorizedCaller(
  method: DescMethod,
  policy: MethodPolicy,
  tokens: TokenVerifier,
  authorization: string | undefined,
): Promise<Principal> {
  const caller = authorization === undefined ? anonymous : await tokens.verify(bearerToken(authorization));
  if (!allows(policy, caller)) throw refusal(method, caller);
  return caller;
}

/** Where the server puts the caller of a call for its handler. */
export const principalKey = createContextKey<Principal>(anonymous, { description: "the verified caller" });

/** The verified caller of the call `ctx` belongs to. */
export function callerOf(ctx: HandlerContext): Principal {
  return ctx.values.get(principalKey);
}

/** The end user calling; UNAUTHENTICATED for anyone else. */
export function requireUser(ctx: HandlerContext): Extract<Principal, { kind: "user" }> {
  const caller = callerOf(ctx);
  if (caller.kind !== "user") throw errors.unauthenticated("this call needs a signed-in user");
  return caller;
}

/** Owners reach their own resources, admins everyone's; PERMISSION_DENIED otherwise. */
export function requireOwnerOrAdmin(ctx: HandlerContext, ownerId: string): Extract<Principal, { kind: "user" }> {
  const caller = requireUser(ctx);
  if (caller.role !== "admin" && caller.userId !== ownerId) throw errors.permissionDenied();
  return caller;
}
