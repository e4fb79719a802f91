import { convllavaNative, convllavaSquare } from './convllava';
import { centerCrop, padSquare, stretch } from './fixed-size';
import type { StrategyModule } from './module';
import { multicrop } from './multicrop';
import { pyramid } from './pyramid';
import { tiles } from './tiles';

/** A module with its knob type hidden: knobs only ever flow from its own parse to its own plan. */
export type AnyStrategy = StrategyModule<unknown>;
const erase = <K>(module: StrategyModule<K>): AnyStrategy => module as unknown as AnyStrategy;

/** Every strategy by the name a bundle's `loupe.strategy` or an override uses. One line each. */
export const STRATEGY_MODULES = {
  'convllava-square': erase(convllavaSquare),
  'convllava-native': erase(convllavaNative),
  multicrop: erase(multicrop),
  pyramid: erase(pyramid),
  tiles: erase(tiles),
  'center-crop': erase(centerCrop),
  stretch: erase(stretch),
  'pad-square': erase(padSquare),
} as const;

export type StrategyName = keyof typeof STRATEGY_MODULES;

export const STRATEGIES = Object.keys(STRATEGY_MODULES) as StrategyName[];
