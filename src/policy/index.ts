export {
  type AmountInput,
  type BuildPolicyReturnType,
  type PolicyInput,
  type TimeInput,
  type TokenLimitInput,
  buildPolicy,
} from "./buildPolicy.js";
export { type Duration, parseDuration } from "./duration.js";
export {
  DEFAULT_GAS_PER_OP,
  type EstimateGasBudgetParameters,
  type EstimateGasBudgetReturnType,
  estimateGasBudget,
} from "./gasBudget.js";
export {
  type ActiveHoursOptions,
  type WeeklySchedule,
  activeHoursFromSchedule,
  nextScheduleChange,
  parseDays,
  scheduleMaskDiffers,
  timeZoneOffsetMinutes,
} from "./schedule.js";
export { type ValidatePolicyOptions, validatePolicy } from "./validate.js";
