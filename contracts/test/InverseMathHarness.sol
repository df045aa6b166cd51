// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {InverseMath} from "../libraries/InverseMath.sol";
import {Tier} from "../libraries/MarginMath.sol";

/// @title InverseMathHarness
/// @notice Test only: InverseMath as external functions, so test/vectors/inverse.test.ts evaluates them on
/// the contract itself and compares them with lib/inverse.ts.
contract InverseMathHarness {
    function cost(int256 size, uint256 price) external pure returns (uint256) {
        return InverseMath.cost(size, price);
    }

    function pnl(int256 size, uint256 positionCost, uint256 price) external pure returns (int256) {
        return InverseMath.pnl(size, positionCost, price);
    }

    function entryPrice(uint256 absSize, uint256 positionCost) external pure returns (uint256) {
        return InverseMath.entryPrice(absSize, positionCost);
    }

    function closedCost(int256 size, uint256 positionCost, uint256 closed) external pure returns (uint256) {
        return InverseMath.closedCost(size, positionCost, closed);
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
        uint256 positionCost,
        int256 netMargin,
        uint256 price
    ) external pure returns (int256) {
        return InverseMath.health(tiers, size, positionCost, netMargin, price);
    }

    function isLiquidatable(
        Tier[] memory tiers,
        int256 size,
        uint256 positionCost,
        int256 netMargin,
        uint256 price
    ) external pure returns (bool) {
        return InverseMath.isLiquidatable(tiers, size, positionCost, netMargin, price);
    }

    function liquidationPrice(
        Tier[] memory tiers,
        int256 size,
        uint256 positionCost,
        int256 netMargin
    ) external pure returns (uint256) {
        return InverseMath.liquidationPrice(tiers, size, positionCost, netMargin);
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

    function fundingIndexDelta(int256 rate, uint256 mark) external pure returns (int256) {
        return InverseMath.fundingIndexDelta(rate, mark);
    }

    function tradersPnl(
        uint256 longFace,
        uint256 longCost,
        uint256 shortFace,
        uint256 shortCost,
        uint256 mark
    ) external pure returns (int256) {
        return InverseMath.tradersPnl(longFace, longCost, shortFace, shortCost, mark);
    }

    function sidePnl(uint256 face, uint256 sideCost, uint256 mark, bool isLong) external pure returns (int256) {
        return InverseMath.sidePnl(face, sideCost, mark, isLong);
    }
}
