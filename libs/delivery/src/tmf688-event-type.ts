// TMF688 names events `<Resource><Action>Event` in PascalCase (ProductOrderCreateEvent,
// ProductOrderStateChangeEvent) with the action in the present tense, while Herald's types are
// dotted and past tense (`product_order.created`). These functions translate between the two.

/** Past-tense action words TMF spells in the present tense; any other word is kept as it is. */
const PRESENT_TENSE: Readonly<Record<string, string>> = {
  created: 'create',
  changed: 'change',
  deleted: 'delete',
};

function pascalCase(words: readonly string[]): string {
  return words.map((word) => word.charAt(0).toUpperCase() + word.slice(1)).join('');
}

function words(segment: string): string[] {
  return segment
    .split(/[_\-\s]+|(?<=[a-z0-9])(?=[A-Z])/)
    .filter((word) => word !== '')
    .map((word) => word.toLowerCase());
}

/**
 * The TMF688 event type of a Herald event type: every segment but the last names the resource,
 * the last the action, e.g. `order.created` → `OrderCreateEvent`, `order.state_changed` →
 * `OrderStateChangeEvent`, `product_order.information_required` →
 * `ProductOrderInformationRequiredEvent`.
 */
export function tmfEventType(type: string): string {
  const segments = type.split('.').filter((segment) => segment !== '');
  const resource = segments.slice(0, -1).flatMap(words);
  const action = words(segments[segments.length - 1] ?? '');
  const last = action.length - 1;
  const presentAction = action.map((word, index) =>
    index === last ? (PRESENT_TENSE[word] ?? word) : word,
  );
  return `${pascalCase([...resource, ...presentAction])}Event`;
}

export interface TmfEventTypeMatch {
  /** Herald event types whose TMF name was asked for, in the order of `knownTypes`. */
  readonly types: string[];
  /** Requested TMF names that match no known type (a hub answers those with 422). */
  readonly unknown: string[];
}

/**
 * The inverse of tmfEventType over the types the contract knows: turns the names of a TMF688
 * hub query (`eventType=OrderCreateEvent,OrderStateChangeEvent`) into Herald types, which are
 * valid type globs for a subscription. Names compare case-insensitively.
 */
export function eventTypesForTmfNames(
  tmfNames: readonly string[],
  knownTypes: readonly string[],
): TmfEventTypeMatch {
  const wanted = new Set(
    tmfNames.map((name) => name.trim().toLowerCase()).filter((name) => name !== ''),
  );
  const types = knownTypes.filter((type) => wanted.has(tmfEventType(type).toLowerCase()));
  const found = new Set(types.map((type) => tmfEventType(type).toLowerCase()));
  const unknown = tmfNames
    .map((name) => name.trim())
    .filter((name) => name !== '' && !found.has(name.toLowerCase()));
  return { types, unknown };
}
