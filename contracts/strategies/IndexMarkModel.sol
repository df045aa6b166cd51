// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IMarkPriceModel, MarkInputs} from "../interfaces/IMarkPriceModel.sol";

/// @title IndexMarkModel
/// @notice Mark = index: the perp's own order flow cannot move it; only the index sources can.
/// A protection to compare against the exchange-style median.
contract IndexMarkModel is IMarkPriceModel {
    /// @inheritdoc IMarkPriceModel
    function markPrice(MarkInputs calldata m) external pure returns (uint256) {
        return m.index;
    }

    /// @inheritdoc IMarkPriceModel
    function name() external pure returns (string memory) {
        return "index";
    }
}
