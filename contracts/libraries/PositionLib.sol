// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {WadMath} from "./WadMath.sol";
import {DecimalFloat} from "./DecimalFloat.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

/// @notice An isolated position. Signed size: positive is long, negative is short (base units, WAD).
/// `margin` is the collateral locked for it (WAD USD), net of funding realised so far;
/// `fundingSnapshot` is the market's funding index when funding was last realised into margin.
/// One position per account and market (one-way mode); its id is `marketId << 160 | owner`, so the
/// owner and the market travel in the id and storage keeps only the four amounts, in one slot
/// (PerpEngineStorage._positions): the entry price and the snapshot to nine significant digits
/// (DecimalFloat). In memory and in views the struct carries them again.
struct Position {
    address owner;
    uint32 marketId;
    int128 size;
    uint128 entryPrice;
    uint128 margin;
    int128 fundingSnapshot;
}

/// @title PositionLib
/// @notice Amounts a position owes or has earned, rounded in the protocol's favour, and the one function
/// that realises its funding (`update`, Uniswap v4's Position.update for the funding accumulator).
library PositionLib {
    using SafeCast for int256;
    using SafeCast for uint256;

    /// @notice The id of `owner`'s position on `marketId`: the market above the owner's 160 bits. The low
    /// bits are the address (itself a hash), so ids spread evenly modulo a keeper's shard count.
    function id(address owner, uint256 marketId) internal pure returns (uint256) {
        return (marketId << 160) | uint256(uint160(owner));
    }

    /// @notice The owner a position id names.
    function ownerOf(uint256 positionId) internal pure returns (address) {
        return address(uint160(positionId));
    }

    /// @notice The market a position id names.
    function marketOf(uint256 positionId) internal pure returns (uint256) {
        return positionId >> 160;
    }

    /// @notice Funding owed since the snapshot (negative: owed to the position); rounded up. The amounts
    /// come at a position's widths (and the market's index, held in 112 bits), which bound the product.
    function pendingFunding(int128 size, int128 snapshot, int128 fundingIndex) internal pure returns (int256) {
        int256 owed;
        // Unchecked: |fundingIndex - snapshot| <= 2^128 - 1 and |size| <= 2^127, so the product's magnitude
        // is at most 2^255 - 2^127 and fits an int256.
        unchecked {
            owed = int256(size) * (int256(fundingIndex) - int256(snapshot));
        }
        return WadMath.ceilDiv(owed, WadMath.IWAD);
    }

    /// @notice PnL of `size` entered at `entry` valued at `price`; rounded down.
    function pnl(int256 size, uint256 entry, uint256 price) internal pure returns (int256) {
        return WadMath.floorDiv(size * (int256(price) - int256(entry)), WadMath.IWAD);
    }

    /// @notice Margin net of pending funding: what equity would be at the entry price. A read: `update`
    /// realises it.
    function netMargin(Position memory p, int128 fundingIndex) internal pure returns (int256) {
        return int256(uint256(p.margin)) - pendingFunding(p.size, p.fundingSnapshot, fundingIndex);
    }

    /// @notice Realises `p`'s funding: what it owes since its snapshot leaves its margin, together with
    /// `marginDelta`, and the snapshot moves to `fundingIndex`, rounded to DecimalFloat's grid in the
    /// protocol's favour: down for a long (which owes size x (index - snapshot)), up for a short. The one
    /// place a position's funding is settled (Uniswap v4's Position.update, for the funding accumulator). A
    /// path calls it once, after taking the position out of the market's aggregates (they hold its old
    /// snapshot) and before putting it back; a full liquidation, which puts nothing back, reads `netMargin`.
    /// @param p The position, updated in place.
    /// @param fundingIndex The market's funding index now.
    /// @param marginDelta What else moves the margin in the same step: margin added or removed, realised
    /// PnL less fees; 0 when the caller writes the margin it ends with (a liquidation's remainder).
    /// @param long The side the position is on after the step (an opening trade's, for a new position).
    /// @return owed The funding realised (negative: paid to the position), rounded up.
    /// @return margin The margin after funding and `marginDelta`, signed; written as `max(margin, 0)`, so
    /// a caller that may go below zero decides (a refusal, or bad debt on a full close).
    function update(
        Position memory p,
        int128 fundingIndex,
        int256 marginDelta,
        bool long
    ) internal pure returns (int256 owed, int256 margin) {
        owed = pendingFunding(p.size, p.fundingSnapshot, fundingIndex);
        margin = int256(uint256(p.margin)) - owed + marginDelta;
        p.margin = margin > 0 ? uint256(margin).toUint88() : 0;
        // Rounded, an index near +-2^127 would leave int128 (the engine's stays below 2^111: MarketLib.sync).
        p.fundingSnapshot = DecimalFloat.roundSigned(fundingIndex, !long).toInt128();
    }
}
