// SPDX-License-Identifier: MIT
pragma solidity ^0.8.26;

/// @title BillingLib
/// @notice The rental money math in one place: what a session costs, and how a prepaid amount splits into the
/// renter's refund, the provider's payout and the protocol fee.
/// @dev Every split satisfies `refund + providerPayout + fee == prepaid` exactly: the fee and payout are carved
/// out of `cost`, and the refund is what is left of `prepaid`. Rounding (down) always favours the renter.
library BillingLib {
    uint256 internal constant BPS = 10_000;
    uint256 internal constant SECONDS_PER_HOUR = 3600;

    /// @notice Billing units of a session: its GPUs, or 1 for a CPU-only session (`gpuCount == 0`).
    function units(uint256 gpuCount) internal pure returns (uint256) {
        return gpuCount == 0 ? 1 : gpuCount;
    }

    /// @notice Prepaid amount for `durationHours` at `ratePerHour` per unit.
    function prepaid(uint256 ratePerHour, uint256 gpuCount, uint256 durationHours) internal pure returns (uint256) {
        return ratePerHour * units(gpuCount) * durationHours;
    }

    /// @notice Splits the prepaid amount of a session that was billed for `usedSeconds`.
    /// @param usedSeconds Billed seconds; capped here at the paid duration.
    /// @return refund To the renter: prepaid − cost.
    /// @return providerPayout To the provider: cost − fee.
    /// @return fee To the treasury: cost × feeBps / 10000.
    function split(uint256 ratePerHour, uint256 gpuCount, uint256 durationHours, uint256 usedSeconds, uint256 feeBps)
        internal
        pure
        returns (uint256 refund, uint256 providerPayout, uint256 fee)
    {
        uint256 paidSeconds = durationHours * SECONDS_PER_HOUR;
        if (usedSeconds > paidSeconds) usedSeconds = paidSeconds;
        uint256 total = prepaid(ratePerHour, gpuCount, durationHours);
        uint256 cost = ratePerHour * units(gpuCount) * usedSeconds / SECONDS_PER_HOUR;
        fee = cost * feeBps / BPS;
        // Checked: underflows only if feeBps > BPS, which callers never allow.
        providerPayout = cost - fee;
        // Safe: usedSeconds <= paidSeconds, so cost = rate × units × usedSeconds / 3600 (rounded down) <= total.
        unchecked {
            refund = total - cost;
        }
    }
}
