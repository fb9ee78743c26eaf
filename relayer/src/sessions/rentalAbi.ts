/**
 * The ComputeRental entry points the gasless relay uses.
 * TODO(abis): replace with the generated `sdk/src/abis` export once it lands (same signatures as
 * contracts/interfaces/IComputeRental.sol).
 */
import { parseAbi } from "viem";

export const rentalRelayAbi = parseAbi([
  "function createSessionWithAuthorization(address provider, uint256 durationHours, string sshPublicKey, uint256 gpuCount, address from, uint256 validAfter, uint256 validBefore, bytes32 salt, bytes signature) returns (uint256 sessionId)",
  "function endSessionBySig(uint256 sessionId, uint256 deadline, bytes signature)",
  "function quote(address provider, address token, uint256 gpuCount, uint256 durationHours) view returns (uint256 cost)",
  "function authorizationToken() view returns (address)",
  "function nonces(address owner) view returns (uint256)",
  "function sessionAuthorizationNonce(address provider, uint256 durationHours, string sshPublicKey, uint256 gpuCount, bytes32 salt) pure returns (bytes32)",
  "struct SessionInfo { address renter; address provider; address token; uint256 ratePerHour; uint256 gpuCount; uint256 durationHours; uint256 prepaid; uint64 createdAt; uint64 startedAt; uint64 expiresAt; uint64 endedAt; uint8 status; }",
  "function getSession(uint256 sessionId) view returns (SessionInfo)",
  "event SessionCreated(uint256 indexed sessionId, address indexed renter, address indexed provider, address token, uint256 ratePerHour, uint256 gpuCount, uint256 durationHours, uint256 prepaid, string sshPublicKey)",
  "event SessionEnded(uint256 indexed sessionId, address indexed renter, address indexed provider, address endedBy, address token, uint256 usedSeconds, uint256 refund, uint256 providerPayout, uint256 fee)",
  "error SessionNotFound(uint256 sessionId)",
  "error SessionNotPending(uint256 sessionId, uint8 status)",
  "error SessionNotOpen(uint256 sessionId, uint8 status)",
  "error SessionExpired(uint256 sessionId, uint256 expiresAt)",
  "error DurationZero()",
  "error DurationTooLong(uint256 durationHours, uint256 maxDurationHours)",
  "error SshKeyEmpty()",
  "error SignatureExpired(uint256 deadline)",
  "error InvalidSignature()",
  "error AuthorizationTokenNotSet()",
  "error ZeroAddress()",
  "error ProviderNotRegistered(address provider)",
  "error ProviderNotActive(address provider)",
  "error PaymentTokenNotAccepted(address provider, address token)",
  "error InsufficientGpus(address provider, uint256 requested, uint256 available)",
  "error ERC3009InvalidSignature()",
  "error ERC20InsufficientBalance(address sender, uint256 balance, uint256 needed)",
]);
