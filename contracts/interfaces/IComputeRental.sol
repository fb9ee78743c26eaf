// SPDX-License-Identifier: MIT
pragma solidity ^0.8.26;

/// @title IComputeRental
/// @notice Escrowed, prepaid GPU/CPU rental sessions with prorated refunds.
/// @dev Lifecycle: `Pending` (created, escrowed, capacity reserved) → `Active` (provider called
/// {activateSession}; billing starts) → `Ended`. A pending session can also end as `Rejected` (provider, full
/// refund) or `Cancelled` (renter after the provision timeout: full refund and the provider is struck and
/// slashed), or `Ended` early by either party (full refund while pending).
///
/// Money: the rate is locked at creation. `prepaid = ratePerHour × max(gpuCount, 1) × durationHours`. On
/// settlement `cost = ratePerHour × max(gpuCount, 1) × usedSeconds / 3600` (rounded down; `usedSeconds` capped
/// at the paid duration), `refund = prepaid − cost`, `fee = cost × feeBps / 10000`, `providerPayout = cost −
/// fee`, so `refund + providerPayout + fee == prepaid` on every path. Payouts are credited and pulled with
/// {withdraw}. Every money event carries the token and the amounts.
interface IComputeRental {
    // ---------------------------------------------------------------------------------------------------------
    // Types
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Where a session is in its lifecycle.
    enum SessionStatus {
        None,
        Pending,
        Active,
        Ended,
        Rejected,
        Cancelled
    }

    /// @notice A session as returned by {getSession}.
    /// @param renter Owner of the session (the signer for gasless sessions); receives refunds.
    /// @param provider The provider renting out the machine.
    /// @param token Payment token, address(0) for native ETH.
    /// @param ratePerHour Locked price per GPU-hour (per hour for CPU-only sessions).
    /// @param gpuCount GPUs rented; 0 for a CPU-only session (billed as 1).
    /// @param durationHours Paid hours (grows with {extendSession}).
    /// @param prepaid Escrowed amount: ratePerHour × max(gpuCount, 1) × durationHours.
    /// @param createdAt Creation time.
    /// @param startedAt Activation time, 0 while pending or if never activated.
    /// @param expiresAt startedAt + durationHours × 1 hour, 0 if never activated.
    /// @param endedAt Settlement time, 0 while open.
    /// @param status Lifecycle status.
    struct SessionInfo {
        address renter;
        address provider;
        address token;
        uint256 ratePerHour;
        uint256 gpuCount;
        uint256 durationHours;
        uint256 prepaid;
        uint64 createdAt;
        uint64 startedAt;
        uint64 expiresAt;
        uint64 endedAt;
        SessionStatus status;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Errors
    // ---------------------------------------------------------------------------------------------------------

    /// @notice No session has id `sessionId`.
    error SessionNotFound(uint256 sessionId);
    /// @notice The session is `status`, not `Pending`.
    error SessionNotPending(uint256 sessionId, SessionStatus status);
    /// @notice The session is `status`, not `Pending` or `Active`.
    error SessionNotOpen(uint256 sessionId, SessionStatus status);
    /// @notice The active session expired at `expiresAt`; it can only be settled.
    error SessionExpired(uint256 sessionId, uint256 expiresAt);
    /// @notice `durationHours` is zero.
    error DurationZero();
    /// @notice `durationHours` exceeds `maxDurationHours`.
    error DurationTooLong(uint256 durationHours, uint256 maxDurationHours);
    /// @notice The SSH public key is empty.
    error SshKeyEmpty();
    /// @notice `msg.value` (`sent`) differs from what is due (`required`); `required` is 0 for ERC-20 payments.
    error IncorrectPayment(uint256 sent, uint256 required);
    /// @notice `caller` is not the renter of `sessionId`.
    error CallerNotRenter(uint256 sessionId, address caller);
    /// @notice `caller` is not the provider of `sessionId`.
    error CallerNotProvider(uint256 sessionId, address caller);
    /// @notice `caller` is neither renter nor provider, and the session has not expired (anyone may settle an
    /// expired session).
    error CallerNotParticipant(uint256 sessionId, address caller);
    /// @notice The session can be cancelled for a provision timeout only from `cancellableAt`.
    error ProvisionTimeoutNotReached(uint256 sessionId, uint256 cancellableAt);
    /// @notice The signature's deadline (`deadline`) has passed.
    error SignatureExpired(uint256 deadline);
    /// @notice The signature is not the renter's.
    error InvalidSignature();
    /// @notice Gasless creation is disabled: no authorization token (USDC) is set.
    error AuthorizationTokenNotSet();
    /// @notice `account` has nothing in `token` to withdraw.
    error NothingToWithdraw(address account, address token);
    /// @notice Sending `amount` wei to `to` failed.
    error NativeTransferFailed(address to, uint256 amount);
    /// @notice The fee (`feeBps`) exceeds `maxFeeBps`.
    error FeeTooHigh(uint256 feeBps, uint256 maxFeeBps);
    /// @notice An address that must be set is the zero address.
    error ZeroAddress();

    // ---------------------------------------------------------------------------------------------------------
    // Events: sessions
    // ---------------------------------------------------------------------------------------------------------

    /// @notice A session was created and `prepaid` escrowed; `gpuCount` GPUs (and one rental slot) of `provider`
    /// are reserved until it is rejected, cancelled or ended. The provider's node provisions it from this event.
    /// @param sessionId New session id (sequential from 1).
    /// @param renter Session owner (the EIP-3009 signer for gasless sessions).
    /// @param provider The provider.
    /// @param token Payment token, address(0) for ETH.
    /// @param ratePerHour Locked price per GPU-hour.
    /// @param gpuCount GPUs rented (0: CPU-only, billed as 1).
    /// @param durationHours Paid hours.
    /// @param prepaid Escrowed amount.
    /// @param sshPublicKey The renter's SSH public key (not stored on-chain).
    event SessionCreated(
        uint256 indexed sessionId,
        address indexed renter,
        address indexed provider,
        address token,
        uint256 ratePerHour,
        uint256 gpuCount,
        uint256 durationHours,
        uint256 prepaid,
        string sshPublicKey
    );

    /// @notice The provider provisioned the session; billing runs from `startedAt` until `expiresAt`.
    /// @param connection Connection info for the renter, e.g. JSON `{"host","port","username"}`.
    event SessionActivated(
        uint256 indexed sessionId,
        address indexed renter,
        address indexed provider,
        string connection,
        uint64 startedAt,
        uint64 expiresAt
    );

    /// @notice The provider rejected a pending session; `refund` (== prepaid) credited to the renter; capacity
    /// released.
    event SessionRejected(
        uint256 indexed sessionId,
        address indexed renter,
        address indexed provider,
        address token,
        uint256 refund,
        string reason
    );

    /// @notice The renter cancelled a session still pending after the provision timeout; `refund` (== prepaid)
    /// credited to the renter; capacity released; the provider got a strike and `slashed` wei of its stake went
    /// to the renter (see the registry's `ProviderSlashed`).
    event SessionCancelled(
        uint256 indexed sessionId,
        address indexed renter,
        address indexed provider,
        address token,
        uint256 refund,
        uint256 slashed
    );

    /// @notice The renter paid `addedPrepaid` for `addedHours` more at the locked rate.
    /// @param newDurationHours Total paid hours after the extension.
    /// @param newPrepaid Total escrow after the extension.
    /// @param newExpiresAt New expiry (0 while still pending).
    event SessionExtended(
        uint256 indexed sessionId,
        address indexed renter,
        address indexed provider,
        address token,
        uint256 addedHours,
        uint256 addedPrepaid,
        uint256 newDurationHours,
        uint256 newPrepaid,
        uint64 newExpiresAt
    );

    /// @notice A session was settled; capacity released. `refund` credited to the renter, `providerPayout` to
    /// the provider, `fee` to the treasury; `refund + providerPayout + fee` equals the session's prepaid.
    /// @param endedBy Who settled it (renter, provider, anyone after expiry; the renter for {endSessionBySig}).
    /// @param usedSeconds Billed seconds (0 if never activated; capped at the paid duration).
    event SessionEnded(
        uint256 indexed sessionId,
        address indexed renter,
        address indexed provider,
        address endedBy,
        address token,
        uint256 usedSeconds,
        uint256 refund,
        uint256 providerPayout,
        uint256 fee
    );

    /// @notice `account` withdrew `amount` of `token` (address(0): ETH) from its credits.
    event Withdrawn(address indexed account, address indexed token, uint256 amount);

    // ---------------------------------------------------------------------------------------------------------
    // Events: governance
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Governance set the protocol fee (bps of the provider's part).
    event FeeSet(uint256 feeBps);
    /// @notice Governance set the fee recipient.
    event TreasurySet(address indexed treasury);
    /// @notice Governance set how long a session may stay pending before the renter can cancel it with a slash.
    event ProvisionTimeoutSet(uint256 provisionTimeout);
    /// @notice Governance set the stake slashed from a provider (to the renter) per provision-timeout cancel.
    event CancelSlashAmountSet(uint256 cancelSlashAmount);
    /// @notice Governance set the EIP-3009 token (USDC) used by {createSessionWithAuthorization}.
    event AuthorizationTokenSet(address indexed token);

    // ---------------------------------------------------------------------------------------------------------
    // Sessions
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Creates a session with `provider`, paying `ratePerHour × max(gpuCount, 1) × durationHours` up front
    /// in ETH (`paymentToken == address(0)`, exact `msg.value`) or in an allowed ERC-20 (`transferFrom`, approve
    /// first). Reverts if the provider is inactive, lacks free GPUs or rental slots, does not price the token,
    /// or if the duration is zero or the key empty.
    /// @return sessionId The new session's id.
    function createSession(
        address provider,
        uint256 durationHours,
        string calldata sshPublicKey,
        uint256 gpuCount,
        address paymentToken
    ) external payable returns (uint256 sessionId);

    /// @notice Gasless {createSession} paid in the authorization token (USDC): pulls exactly the cost from `from`
    /// with EIP-3009 `receiveWithAuthorization(from, address(this), cost, validAfter, validBefore, nonce, sig)`,
    /// where `nonce` MUST be {sessionAuthorizationNonce}(provider, durationHours, sshPublicKey, gpuCount, salt),
    /// so a relayer cannot change the session's terms. The session belongs to `from`.
    /// @param signature 65-byte ECDSA signature (split into v, r, s), or any other length for ERC-1271 wallets
    /// (passed as `bytes` to tokens that support it, like USDC v2.2).
    function createSessionWithAuthorization(
        address provider,
        uint256 durationHours,
        string calldata sshPublicKey,
        uint256 gpuCount,
        address from,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 salt,
        bytes calldata signature
    ) external returns (uint256 sessionId);

    /// @notice The provider confirms the machine is provisioned; billing starts now.
    function activateSession(uint256 sessionId, string calldata connection) external;

    /// @notice The provider declines a pending session; the renter gets a full refund.
    function rejectSession(uint256 sessionId, string calldata reason) external;

    /// @notice The renter cancels a session still pending {provisionTimeout} after creation: full refund, and the
    /// provider is struck and slashed {cancelSlashAmount} (to the renter).
    function cancelSession(uint256 sessionId) external;

    /// @notice The renter buys `addedHours` more at the locked rate (ETH: exact `msg.value`; ERC-20:
    /// `transferFrom`). Pending or active and not expired.
    function extendSession(uint256 sessionId, uint256 addedHours) external payable;

    /// @notice Settles a session: renter or provider at any time, anyone once expired. Pending sessions are
    /// refunded in full.
    function endSession(uint256 sessionId) external;

    /// @notice {endSession} on behalf of the renter, with an EIP-712 `EndSession(uint256 sessionId,uint256
    /// nonce,uint256 deadline)` signature of the renter (domain "ComputeRental", version "1"). `nonce` is
    /// `nonces(renter)`. The gasless path: an ERC-20 refund is transferred to the renter right away (reported as
    /// {Withdrawn}), since the renter may hold no ETH to call {withdraw}; if the token refuses the transfer (e.g.
    /// the renter is blacklisted) it is credited instead, so settlement never fails on it. ETH refunds are credited.
    function endSessionBySig(uint256 sessionId, uint256 deadline, bytes calldata signature) external;

    /// @notice Sends the caller all its credits in `token` (address(0): ETH).
    function withdraw(address token) external;

    // ---------------------------------------------------------------------------------------------------------
    // Governance (DEFAULT_ADMIN_ROLE)
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Sets the protocol fee, at most {MAX_FEE_BPS}.
    function setFee(uint256 feeBps) external;
    /// @notice Sets the fee recipient.
    function setTreasury(address treasury) external;
    /// @notice Sets the provision timeout in seconds.
    function setProvisionTimeout(uint256 provisionTimeout) external;
    /// @notice Sets the stake slashed per provision-timeout cancel.
    function setCancelSlashAmount(uint256 cancelSlashAmount) external;
    /// @notice Sets the EIP-3009 token for gasless creation (address(0) disables it).
    function setAuthorizationToken(address token) external;

    // ---------------------------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Highest protocol fee, bps.
    function MAX_FEE_BPS() external view returns (uint256);
    /// @notice Longest session, hours.
    function MAX_DURATION_HOURS() external view returns (uint256);
    /// @notice EIP-712 typehash of `EndSession(uint256 sessionId,uint256 nonce,uint256 deadline)`.
    function END_SESSION_TYPEHASH() external view returns (bytes32);
    /// @notice The provider registry.
    function registry() external view returns (address);
    /// @notice Fee recipient.
    function treasury() external view returns (address);
    /// @notice Protocol fee, bps of the provider's part.
    function feeBps() external view returns (uint256);
    /// @notice Seconds a session may stay pending before the renter can cancel it with a slash.
    function provisionTimeout() external view returns (uint256);
    /// @notice Wei of stake slashed (to the renter) per provision-timeout cancel.
    function cancelSlashAmount() external view returns (uint256);
    /// @notice EIP-3009 token for gasless creation (USDC), address(0) if disabled.
    function authorizationToken() external view returns (address);
    /// @notice The id the next session will get.
    function nextSessionId() external view returns (uint256);
    /// @notice What `account` can withdraw in `token`.
    function credits(address account, address token) external view returns (uint256);
    /// @notice The session (status `None` if it does not exist).
    function getSession(uint256 sessionId) external view returns (SessionInfo memory);
    /// @notice What ending the session now would pay: billed seconds, refund, provider payout, fee.
    function previewSettlement(uint256 sessionId)
        external
        view
        returns (uint256 usedSeconds, uint256 refund, uint256 providerPayout, uint256 fee);
    /// @notice Cost of a session now: provider's price for `token` × max(gpuCount, 1) × durationHours (0 if the
    /// provider does not accept the token).
    function quote(address provider, address token, uint256 gpuCount, uint256 durationHours)
        external
        view
        returns (uint256 cost);
    /// @notice The EIP-3009 nonce that binds a gasless authorization to these session terms:
    /// keccak256(abi.encode(provider, durationHours, keccak256(bytes(sshPublicKey)), gpuCount, salt)).
    function sessionAuthorizationNonce(
        address provider,
        uint256 durationHours,
        string calldata sshPublicKey,
        uint256 gpuCount,
        bytes32 salt
    ) external pure returns (bytes32);
    /// @notice The EIP-712 digest the renter signs for {endSessionBySig}.
    function hashEndSession(uint256 sessionId, uint256 nonce, uint256 deadline) external view returns (bytes32);
}
