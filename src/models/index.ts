export { FAMILIES, familyNamed, resolveFamily } from './registry';
export type { FamilyFiles, KvLayout, ModelFamily } from './family';
export { ECOSYSTEM_KV, kvName, kvNames, presentToPast } from './kv-layout';
