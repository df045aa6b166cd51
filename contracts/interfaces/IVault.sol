// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @notice A zero-sum movement between the vault's ledgers, all in WAD USD. Positive credits, negative
/// debits. The vault refuses any settlement whose deltas do not sum to zero, so the engines can move
/// money only between ledgers, never create or destroy it.
struct Settlement {
    address account; // a trader's free balance
    int256 accountDelta;
    address counterparty; // a second free balance: a keeper's reward, an order's owner
    int256 counterpartyDelta;
    int256 marginDelta; // all positions' locked margin
    int256 escrowDelta; // all live orders' escrow
    int256 poolDelta; // the liquidity pool's assets
    int256 insuranceDelta; // the insurance fund
}

/// @title IVault
/// @notice Custody of all collateral and the ledgers over it.
interface IVault {
    /// @notice Books a zero-sum settlement; callable by the engines (operator role). No event: the operator's
    /// own event for the action carries the movement.
    function settle(Settlement calldata s) external;

    /// @notice Credits the pool with collateral the pool has already moved into the vault (6 decimals).
    function creditPool(uint256 amount) external;

    /// @notice Pays `amount` (6 decimals) of the pool's assets to `to`.
    function payFromPool(address to, uint256 amount) external;

    /// @notice An account's free balance (WAD USD).
    function freeBalance(address account) external view returns (uint256);
    /// @notice The liquidity pool's assets (WAD USD).
    function poolAssets() external view returns (uint256);
    /// @notice The insurance fund (WAD USD).
    function insuranceFund() external view returns (uint256);
    /// @notice Margin locked in all positions (WAD USD).
    function totalMargin() external view returns (uint256);
    /// @notice Escrow of all live orders (WAD USD).
    function totalEscrow() external view returns (uint256);
}
