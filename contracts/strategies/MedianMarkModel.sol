// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IMarkPriceModel, MarkInputs} from "../interfaces/IMarkPriceModel.sol";
import {WadMath} from "../libraries/WadMath.sol";

/// @title MedianMarkModel
/// @notice The exchange-style mark of SPEC section 5: median(P1, P2, last) with
/// P1 = index * (1 + F_last * timeToNextFunding / interval) and P2 = index + EMA(basis).
contract MedianMarkModel is IMarkPriceModel {
    /// @inheritdoc IMarkPriceModel
    function markPrice(MarkInputs calldata m) external pure returns (uint256) {
        int256 index = int256(m.index);
        int256 p1 = index +
            (index * m.lastFundingRate * int256(m.timeToNextFunding)) /
            (int256(m.fundingInterval) * WadMath.IWAD);
        int256 p2 = index + m.emaBasis;
        return WadMath.median3(_positive(p1), _positive(p2), m.lastPrice);
    }

    /// @inheritdoc IMarkPriceModel
    function name() external pure returns (string memory) {
        return "median(P1,P2,last)";
    }

    function _positive(int256 x) private pure returns (uint256) {
        return x > 0 ? uint256(x) : 1;
    }
}
