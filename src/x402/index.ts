// x402 payments from a Stopline account (SPEC section 7): the client scheme for @x402/fetch, the lane helpers, and the
// lane signature itself.
export {
  FACILITATOR_VALID_BEFORE_MARGIN,
  StoplineX402Scheme,
  type StoplineX402Payment,
  type StoplineX402SchemeParameters,
  type X402ExactPayload,
  type X402PaymentRequirements,
} from "./scheme.js";
export {
  ensureLaneOpen,
  openLaneCallData,
  readLane,
  type EnsureLaneOpenErrorType,
  type EnsureLaneOpenParameters,
  type EnsureLaneOpenReturnType,
  type LaneState,
} from "./ensureLaneOpen.js";
export { X402PaymentError, type X402PaymentErrorType } from "./errors.js";
export {
  LANE_SIGNATURE_LENGTH,
  LANE_SIGNATURE_TAG,
  encodeLaneSignature,
  laneNonce,
  signLaneAuthorization,
  transferWithAuthorizationTypes,
  type LaneAuthorization,
  type SignedLaneAuthorization,
} from "./lane.js";
