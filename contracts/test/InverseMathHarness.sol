// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {InverseMath} from "../libraries/InverseMath.sol";
import {Tier} from "../libraries/MarginMath.sol";

/// @title InverseMathHarness
/// @notice Test only: InverseMath as external functions, so its vectors (test/vectors/inverse/) are
/// evaluated by the contract itself and compared with lib/inverse.ts.
contract InverseMathHarness {
    function pnl(int256 size, uint256 entry, uint256 price) external pure returns (int256) {
        return InverseMath.pnl(size, entry, price);
    }

    function notional(uint256 absSize, uint256 price) external pure returns (uint256) {
        return InverseMath.notional(absSize, price);
    }

    function tierOf(Tier[] memory tiers, uint256 absSize, uint256 price) external pure returns (uint256) {
        return InverseMath.tierOf(tiers, absSize, price);
    }

    function maintenanceMargin(Tier[] memory tiers, uint256 absSize, uint256 price) external pure returns (uint256) {
        return InverseMath.maintenanceMargin(tiers, absSize, price);
    }

    function health(
        Tier[] memory tiers,
        int256 size,
        uint256 entry,
        int256 netMargin,
        uint256 price
    ) external pure returns (int256) {
        return InverseMath.health(tiers, size, entry, netMargin, price);
    }

    function isLiquidatable(
        Tier[] memory tiers,
        int256 size,
        uint256 entry,
        int256 netMargin,
        uint256 price
    ) external pure returns (bool) {
        return InverseMath.isLiquidatable(tiers, size, entry, netMargin, price);
    }

    function liquidationPrice(
        Tier[] memory tiers,
        int256 size,
        uint256 entry,
        int256 netMargin
    ) external pure returns (uint256) {
        return InverseMath.liquidationPrice(tiers, size, entry, netMargin);
    }

    function meetsInitialMargin(
        Tier[] memory tiers,
        uint256 absSize,
        uint256 price,
        int256 equity
    ) external pure returns (bool ok, uint256 leverage, uint256 maxLeverage) {
        return InverseMath.meetsInitialMargin(tiers, absSize, price, equity);
    }

    function fee(
        int256 skew,
        int256 delta,
        uint256 fill,
        uint256 takerRate,
        uint256 makerRate
    ) external pure returns (uint256) {
        return InverseMath.fee(skew, delta, fill, takerRate, makerRate);
    }

    function averageEntry(int256 size, uint256 entry, int256 delta, uint256 fill) external pure returns (uint256) {
        return InverseMath.averageEntry(size, entry, delta, fill);
    }

    function fundingIndexDelta(int256 rate, uint256 mark) external pure returns (int256) {
        return InverseMath.fundingIndexDelta(rate, mark);
    }
}
