import { compileTypePattern, type TypePredicate } from '@herald/contract';
import type { Scope, ScopeGrant } from '@herald/store';

/**
 * Who is calling: the key's tenant and what it may do. `admin` may do everything, for any
 * tenant; every other key acts only within its tenant, and a scope limited to type patterns
 * covers only matching event types. An `admin` grant limited to types grants nothing:
 * parseScopeGrants refuses one, and a key stored with one before is no admin of everything.
 */
export class Principal {
  private readonly predicates = new Map<Scope, TypePredicate[] | null>();

  constructor(
    readonly keyId: string,
    readonly tenant: string,
    readonly grants: readonly ScopeGrant[],
  ) {
    for (const grant of grants) {
      if (grant.scope === 'admin' && grant.types !== null) continue;
      const existing = this.predicates.get(grant.scope);
      if (existing === null) continue;
      if (grant.types === null) this.predicates.set(grant.scope, null);
      else
        this.predicates.set(grant.scope, [
          ...(existing ?? []),
          ...grant.types.map((t) => compileTypePattern(t)),
        ]);
    }
  }

  get isAdmin(): boolean {
    return this.predicates.has('admin');
  }

  /** Holds `scope` for at least some types (admin holds every scope). */
  has(scope: Scope): boolean {
    return this.isAdmin || this.predicates.has(scope);
  }

  /** Holds `scope` for event type `type`. */
  allows(scope: Scope, type: string): boolean {
    if (this.isAdmin) return true;
    const predicates = this.predicates.get(scope);
    if (predicates === undefined) return false;
    return predicates === null || predicates.some((matches) => matches(type));
  }

  /** The type patterns `scope` is limited to, or null when it covers every type. */
  typePatterns(scope: Scope): string[] | null {
    if (this.isAdmin) return null;
    const patterns: string[] = [];
    for (const grant of this.grants) {
      if (grant.scope !== scope) continue;
      if (grant.types === null) return null;
      patterns.push(...grant.types);
    }
    return patterns;
  }

  /** May act on resources of `tenant`. */
  ownsTenant(tenant: string): boolean {
    return this.isAdmin || tenant === this.tenant;
  }
}
