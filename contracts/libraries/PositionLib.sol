// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {WadMath} from "./WadMath.sol";

/// @notice An isolated position. Signed size: positive is long, negative is short (base units, WAD).
/// `margin` is the collateral locked for it (WAD USD), net of funding realised so far;
/// `fundingSnapshot` is the market's funding index when funding was last realised into margin.
/// The id is keccak256(owner, marketId): one position per account and market (one-way mode).
struct Position {
    address owner;
    uint32 marketId;
    int128 size;
    uint128 entryPrice;
    uint128 margin;
    int128 fundingSnapshot;
}

/// @title PositionLib
/// @notice Amounts a position owes or has earned, rounded in the protocol's favour.
library PositionLib {
    function id(address owner, uint256 marketId) internal pure returns (uint256) {
        return uint256(keccak256(abi.encode(owner, marketId)));
    }

    /// @notice Funding owed since the snapshot (negative: owed to the position); rounded up.
    function pendingFunding(int256 size, int256 snapshot, int256 fundingIndex) internal pure returns (int256) {
        return -WadMath.floorDiv(-(size * (fundingIndex - snapshot)), WadMath.IWAD);
    }

    /// @notice PnL of `size` entered at `entry` valued at `price`; rounded down.
    function pnl(int256 size, uint256 entry, uint256 price) internal pure returns (int256) {
        return WadMath.floorDiv(size * (int256(price) - int256(entry)), WadMath.IWAD);
    }

    /// @notice Margin net of pending funding: what equity would be at the entry price.
    function netMargin(Position memory p, int256 fundingIndex) internal pure returns (int256) {
        return int256(uint256(p.margin)) - pendingFunding(p.size, p.fundingSnapshot, fundingIndex);
    }
}
